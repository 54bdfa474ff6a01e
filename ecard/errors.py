"""The one catalogue of errors a caller can cause, and the exception that carries them.

Every error answered by the API is an :class:`EcardError` whose ``code`` names an
entry of :data:`CATALOGUE`. Each entry has an HTTP status and a message in Chinese
and in English written for the person in front of the screen: channels, the SDK and
the H5 pages show the same words. The README's error table is generated from this
module (``ecard errors --markdown``), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    zh: str
    en: str


CATALOGUE: dict[str, ErrorSpec] = {
    # --- request shape -------------------------------------------------------
    "VALIDATION_FAILED": ErrorSpec(
        422, "提交的信息有误，请按提示修改后重试。",
        "Some of the information sent is not valid; correct the fields shown and retry."),
    "BAD_REQUEST": ErrorSpec(
        400, "请求格式不正确。", "The request could not be read; send valid JSON."),
    "NOT_FOUND": ErrorSpec(404, "请求的内容不存在。", "Nothing exists at this address."),
    "METHOD_NOT_ALLOWED": ErrorSpec(
        405, "不支持该操作方式。", "This address does not accept that method."),
    "PAYLOAD_TOO_LARGE": ErrorSpec(
        413, "上传的内容过大。", "The upload is too large."),
    "RATE_LIMITED": ErrorSpec(
        429, "操作过于频繁，请稍后再试。", "Too many requests; wait a moment and try again."),
    "IDEMPOTENCY_KEY_REUSED": ErrorSpec(
        409, "同一请求编号被用于不同的内容。",
        "This Idempotency-Key was already used with a different request body."),
    "IDEMPOTENCY_IN_PROGRESS": ErrorSpec(
        409, "相同的请求正在处理中，请稍后再试。",
        "A request with this Idempotency-Key is still being processed; retry shortly."),
    "IDEMPOTENCY_KEY_INVALID": ErrorSpec(
        400, "请求编号格式不正确。",
        "The Idempotency-Key header must be 1 to 128 printable ASCII characters."),
    "INTERNAL_ERROR": ErrorSpec(
        500, "系统繁忙，请稍后再试。", "Something went wrong on our side; please try again later."),
    # --- channel authentication ---------------------------------------------
    "AUTH_MISSING": ErrorSpec(
        401, "缺少渠道身份凭证。", "The request carries no channel token (Authorization: Bearer)."),
    "AUTH_MALFORMED": ErrorSpec(
        401, "渠道身份凭证格式错误。", "The channel token cannot be read."),
    "AUTH_UNKNOWN_CHANNEL": ErrorSpec(
        401, "渠道未注册。", "The channel named in the token is not registered."),
    "AUTH_UNKNOWN_KEY": ErrorSpec(
        401, "渠道密钥未登记。", "The token's key id is not registered for this channel."),
    "AUTH_BAD_SIGNATURE": ErrorSpec(
        401, "渠道签名校验失败。", "The channel token's signature does not verify."),
    "AUTH_EXPIRED": ErrorSpec(
        401, "渠道身份凭证已过期。", "The channel token has expired; sign a fresh one."),
    "AUTH_NOT_YET_VALID": ErrorSpec(
        401, "渠道身份凭证尚未生效，请校准时钟。",
        "The channel token is issued in the future; check the server clock."),
    "AUTH_LIFETIME_TOO_LONG": ErrorSpec(
        401, "渠道身份凭证有效期过长。", "The channel token lives longer than allowed."),
    "AUTH_BINDING_MISMATCH": ErrorSpec(
        401, "渠道身份凭证与请求内容不符。",
        "The channel token is bound to another method, path or body."),
    "AUTH_REPLAYED": ErrorSpec(
        401, "渠道身份凭证已被使用。", "This channel token (jti) was already used."),
    "CHANNEL_SUSPENDED": ErrorSpec(
        403, "该渠道已暂停服务。", "This channel is suspended and cannot call the platform."),
    "CHANNEL_NOT_ONLINE": ErrorSpec(
        403, "该渠道尚未上线或已退出。", "This channel is not online (applied or exited)."),
    "FORBIDDEN": ErrorSpec(
        403, "无权进行该操作。", "This channel may not do that."),
    # --- registry -----------------------------------------------------------
    "ID_NUMBER_INVALID": ErrorSpec(
        422, "身份证号码格式或校验位不正确。",
        "The ID number is not a valid 18-character citizen ID (format or check digit)."),
    "CARD_NUMBER_INVALID": ErrorSpec(
        422, "社会保障卡卡号格式不正确。", "The card number must be 9 letters or digits."),
    "REGION_CODE_INVALID": ErrorSpec(
        422, "行政区划代码不正确。", "The region code must be 6 digits."),
    "PERSON_NOT_FOUND": ErrorSpec(
        404, "未查询到持卡信息，请核对身份证号。",
        "No card holder with this ID number is in the registry; check the number."),
    "CARD_NOT_FOUND": ErrorSpec(
        404, "未查询到该社会保障卡。", "No physical card with this number exists."),
    "IDENTITY_MISMATCH": ErrorSpec(
        422, "姓名、身份证号与卡号不匹配，请核对后重试。",
        "The name, ID number and card number do not match the registry; check them."),
    "CARD_NOT_ACTIVE": ErrorSpec(
        409, "您的实体社保卡已挂失、注销或已换卡，请先到网点处理实体卡。",
        "The physical card is lost, cancelled or replaced; settle the physical card first."),
    "CARD_STATUS_TRANSITION_INVALID": ErrorSpec(
        409, "实体卡当前状态不允许该变更。",
        "The physical card's current status does not allow that change."),
    "REPLACEMENT_CARD_INVALID": ErrorSpec(
        422, "新卡号无效或已被使用。",
        "The replacement card number is invalid or already belongs to a card."),
    # --- faces --------------------------------------------------------------
    "IMAGE_INVALID": ErrorSpec(
        422, "照片无法识别，请上传清晰的JPEG或PNG照片。",
        "The photo could not be read; send a clear JPEG or PNG image."),
    "IMAGE_TOO_LARGE": ErrorSpec(
        413, "照片过大，请压缩后重试。", "The photo is too large; send a smaller image."),
    "FACE_NOT_FOUND": ErrorSpec(
        422, "未检测到人脸，请正对镜头、保持光线充足。",
        "No face was found; face the camera in good light."),
    "FACE_MULTIPLE": ErrorSpec(
        422, "检测到多张人脸，请确保画面中只有本人。",
        "More than one face is in the picture; make sure only you are in view."),
    "FACE_TOO_DARK": ErrorSpec(
        422, "光线太暗，请到明亮处重试。", "The picture is too dark; move to a brighter place."),
    "FACE_TOO_SMALL": ErrorSpec(
        422, "人脸太小，请靠近镜头。", "The face is too small; come closer to the camera."),
    "FACE_MISMATCH": ErrorSpec(
        422, "人脸与登记照片不一致，请本人操作。",
        "The face does not match the card holder's enrolment photo; the holder must do this."),
    "ENROLMENT_PHOTO_MISSING": ErrorSpec(
        409, "未留存登记照片，请到社保网点采集照片。",
        "No enrolment photo is on file for this card holder; visit a service office."),
    # --- certification (liveness) -------------------------------------------
    "ACTION_NOT_SEEN": ErrorSpec(
        422, "未检测到要求的动作，请按语音提示慢慢完成动作。",
        "The requested action was not seen; follow the spoken prompt and do it slowly."),
    "ACTIONS_OUT_OF_ORDER": ErrorSpec(
        422, "动作顺序与提示不一致，请按提示的顺序逐个完成。",
        "The actions were not done in the order asked; do them one by one as prompted."),
    "NO_MOTION": ErrorSpec(
        422, "画面没有变化，请本人面对镜头完成动作，不要使用照片。",
        "Nothing moved between the pictures; the holder must face the camera and move."),
    "IDENTITY_CHANGED": ErrorSpec(
        422, "认证过程中人脸发生变化，请本人全程面对镜头。",
        "The face changed during the check; the same person must stay in view throughout."),
    "FRAME_REPLAYED": ErrorSpec(
        422, "画面已被使用过，请重新拍摄。",
        "A picture sent was already used before; capture new pictures live."),
    "FRAMES_MISSING": ErrorSpec(
        422, "未收到认证画面，请重新开始认证。",
        "No pictures were received for this check; start it again."),
    "SESSION_EXPIRED": ErrorSpec(
        422, "认证已超时，请重新开始认证。",
        "The check was not finished before its deadline; start a new one."),
    "SESSION_NOT_FOUND": ErrorSpec(
        404, "认证会话不存在。", "No certification session with this id exists in your channel."),
    "SESSION_ALREADY_DECIDED": ErrorSpec(
        409, "本次认证已完成，请重新开始认证。",
        "This certification session was already decided; start a new one."),
    "CERTIFICATION_SESSION_INVALID": ErrorSpec(
        422, "人脸认证结果无效或已使用，请重新进行人脸认证。",
        "The certification session is not a recent (10 minutes) passed check of this "
        "holder, in your channel, for this step, or it was already used; do a new face "
        "check."),
    "RECIPIENT_NOT_FOUND": ErrorSpec(
        404, "未查询到您的待遇领取信息，请联系参保地社保经办机构。",
        "No pension entitlement is on file for this holder; contact the social-security "
        "office."),
    "RECIPIENT_STOPPED": ErrorSpec(
        409, "该待遇已终止，无需认证。",
        "This pension entitlement has stopped; no certification is needed."),
    "APPEAL_NOT_FOUND": ErrorSpec(404, "申诉不存在。", "No appeal with this id exists."),
    "APPEAL_ALREADY_DECIDED": ErrorSpec(
        409, "该申诉已处理。", "This appeal was already approved or rejected."),
    "OPERATOR_AUTH_MISSING": ErrorSpec(
        401, "缺少操作员凭证。",
        "The request carries no operator token (Authorization: Bearer op_…)."),
    "OPERATOR_AUTH_INVALID": ErrorSpec(
        401, "操作员凭证无效。", "The operator token is unknown or disabled."),
    "OPERATOR_EXISTS": ErrorSpec(
        409, "操作员已存在。", "An operator with this name already exists."),
    # --- e-cards ------------------------------------------------------------
    "ECARD_NOT_FOUND": ErrorSpec(
        404, "未查询到该电子社保卡。", "No e-card with this sign number exists in your channel."),
    "ECARD_NOT_ACTIVE": ErrorSpec(
        409, "电子社保卡当前不可用（实体卡挂失、注销或已解除关联）。",
        "The e-card is not active (physical card lost or cancelled, or unlinked)."),
    "ECARD_SUSPENDED": ErrorSpec(
        409, "电子社保卡已暂停：实体卡已挂失。解挂或补换卡后可恢复。",
        "The e-card is suspended because the physical card is reported lost."),
    "ECARD_REVOKED": ErrorSpec(
        409, "电子社保卡已注销：实体卡已注销。",
        "The e-card is revoked because the physical card was cancelled."),
    "PIN_REQUIRED": ErrorSpec(
        422, "请输入电子社保卡密码。", "The e-card PIN is required for this step."),
    "PIN_FORMAT_INVALID": ErrorSpec(
        422, "密码须为6位数字。", "The PIN must be exactly 6 digits."),
    "PIN_TOO_WEAK": ErrorSpec(
        422, "密码过于简单：不能是连续或重复数字，也不能取自身份证号。",
        "The PIN is too easy: no runs (123456), repeats (111111) or digits from the ID number."),
    "PIN_WRONG": ErrorSpec(
        401, "密码错误。", "The PIN is wrong."),
    "PIN_LOCKED": ErrorSpec(
        423, "密码错误次数过多已锁定，请通过人脸验证后重设密码。",
        "The PIN is locked after too many wrong tries; verify your face to reset it."),
    "PIN_ALREADY_SET": ErrorSpec(
        409, "您已在其他渠道领取电子社保卡，请输入已设置的密码完成关联。",
        "You already hold an e-card in another channel; enter your existing PIN to link it."),
    "CERTIFICATION_SESSION_REQUIRED": ErrorSpec(
        422, "请先完成本人刷脸认证（按提示完成动作），再继续办理。",
        "Do the face check first: start a certification session, pass it, and send its "
        "certification_session_id."),
    "ISSUANCE_CONFLICT": ErrorSpec(
        409, "您的领卡申请正在处理中，请稍后重试。",
        "Another request for this card holder is being processed; retry in a moment."),
    # --- identity codes (亮码) and attribute release -------------------------
    "CODE_INVALID": ErrorSpec(
        422, "电子社保卡二维码无效，请让持卡人重新出示。",
        "This is not a valid e-card identity code (damaged, altered or not ours); ask "
        "the holder to show it again."),
    "CODE_EXPIRED": ErrorSpec(
        410, "电子社保卡二维码已过期，请让持卡人刷新后重新出示（截图无效）。",
        "The identity code has expired (codes live 60 s; screenshots do not work); ask "
        "the holder to refresh it."),
    "CODE_REVOKED": ErrorSpec(
        409, "该电子社保卡已注销或已解除关联，二维码不能使用。",
        "The e-card behind this code is revoked (physical card cancelled) or unlinked."),
    "CODE_SUSPENDED": ErrorSpec(
        409, "该电子社保卡已暂停使用（实体卡已挂失），二维码不能使用。",
        "The e-card behind this code is suspended: the physical card is reported lost."),
    "CODE_ALREADY_REDEEMED": ErrorSpec(
        409, "该二维码已被使用，请让持卡人刷新后重新出示。",
        "This identity code was already used once; ask the holder to show a fresh one."),
    "SCENE_INVALID": ErrorSpec(
        422, "场景代码不正确（01查询、02支付、03其他、04跨省就医）。",
        "The scene code must be 01 (query), 02 (payment), 03 (other) or 04 (cross-region "
        "medical)."),
    "CODE_SCENE_MISMATCH": ErrorSpec(
        422, "该二维码不能用于此场景，请让持卡人出示对应场景的二维码。",
        "The holder did not show this code for this scene; ask for a code for this scene."),
    "ATTRIBUTES_NOT_ALLOWED": ErrorSpec(
        403, "请求的信息超出本渠道在该场景下可获取的范围，未返回任何信息。",
        "Some requested attributes are beyond what this channel type may receive in this "
        "scene (or unknown); nothing was released."),
    # --- channels (operator) ------------------------------------------------
    "CHANNEL_NOT_FOUND": ErrorSpec(404, "渠道不存在。", "No channel with this number exists."),
    "CHANNEL_EXISTS": ErrorSpec(
        409, "渠道编号已存在。", "A channel with this number already exists."),
    "CHANNEL_NUMBER_INVALID": ErrorSpec(
        422, "渠道编号须为10位数字。", "The channel number must be 10 digits."),
    "CHANNEL_PARENT_INVALID": ErrorSpec(
        422, "上级渠道不存在或本身是二级渠道。",
        "The parent channel does not exist or is itself a second-level channel."),
    "CHANNEL_STATUS_TRANSITION_INVALID": ErrorSpec(
        409, "渠道当前状态不允许该变更。", "The channel's status does not allow that change."),
    "CHANNEL_KEY_INVALID": ErrorSpec(
        422, "渠道公钥须为 P-256 (ES256) 公钥。",
        "The channel public key must be an EC P-256 (ES256) public key in PEM or JWK form."),
    "CHANNEL_TYPE_INVALID": ErrorSpec(
        422, "渠道类型不正确。",
        "The channel type must be one of: ministry, government, partner, bank, medical, "
        "social."),
    "CHANNEL_CALLBACK_URL_INVALID": ErrorSpec(
        422, "渠道回调地址须为 http 或 https 网址。",
        "The callback URL must be an http or https address with a host."),
    "CHANNEL_KEY_EXISTS": ErrorSpec(
        409, "该渠道已登记此密钥编号。", "This channel already has a key with this key id."),
    "CHANNEL_KEY_NOT_FOUND": ErrorSpec(
        404, "该渠道没有此密钥编号。", "This channel has no key with this key id."),
    # --- keys / credentials -------------------------------------------------
    "SIGNING_KEY_NOT_FOUND": ErrorSpec(404, "签名密钥不存在。", "No signing key has this id."),
    # --- level 2 (payment enabled) and payments --------------------------------
    "ECARD_LEVEL_INSUFFICIENT": ErrorSpec(
        409, "请先开通缴费结算功能（二级电子社保卡）。",
        "Payment is not enabled for this e-card; link the bank account (level 2) first."),
    "NO_BANK_ACCOUNT": ErrorSpec(
        409, "社保卡未关联银行账户或银行预留手机号，请到合作银行网点办理。",
        "The physical card has no linked bank account or bank-reserved phone; visit the "
        "card's bank."),
    "SMS_CODE_NOT_SENT": ErrorSpec(
        409, "请先获取短信验证码。", "No SMS code was sent for this e-card; request one first."),
    "SMS_CODE_WRONG": ErrorSpec(
        422, "短信验证码错误。", "The SMS code is wrong."),
    "SMS_CODE_EXPIRED": ErrorSpec(
        410, "短信验证码已过期，请重新获取。", "The SMS code has expired; request a new one."),
    "SMS_CODE_ATTEMPTS_EXCEEDED": ErrorSpec(
        429, "短信验证码错误次数过多，请重新获取。",
        "Too many wrong SMS codes; request a new code."),
    "SMS_RESEND_TOO_SOON": ErrorSpec(
        429, "短信发送过于频繁，请稍后再试。",
        "An SMS code was sent less than a minute ago; wait before asking again."),
    "CHANNEL_NOT_MERCHANT": ErrorSpec(
        403, "该渠道不是收单机构，不能发起收款。",
        "Only acquirer channels (medical or partner) may take payments."),
    "CURRENCY_NOT_SUPPORTED": ErrorSpec(
        422, "仅支持人民币（CNY）。", "Only the currency CNY is supported."),
    "PAYMENT_CODE_INVALID": ErrorSpec(
        422, "付款码无效，请让付款人刷新付款码。",
        "The payment code is not valid; ask the payer to refresh the code."),
    "PAYMENT_CODE_EXPIRED": ErrorSpec(
        422, "付款码已过期，请让付款人刷新付款码。",
        "The payment code has expired; ask the payer to refresh the code."),
    "PAYMENT_CODE_USED": ErrorSpec(
        409, "付款码已使用，请让付款人刷新付款码。",
        "The payment code was already used; ask the payer to refresh the code."),
    "ORDER_ID_CONFLICT": ErrorSpec(
        409, "该订单号已用于金额、币种或医保结算信息不同的支付。",
        "This order id was already used for a payment with another amount, currency or "
        "medical bill."),
    "ORDER_IN_PROGRESS": ErrorSpec(
        409, "该订单正在支付中，请稍后查询结果。",
        "A payment with this order id is being processed; retry shortly."),
    "INSUFFICIENT_FUNDS": ErrorSpec(
        402, "账户余额不足。", "The account does not hold enough funds for this amount."),
    "PAYMENT_NOT_FOUND": ErrorSpec(
        404, "未查询到该笔支付。", "No payment with this id exists for you."),
    "PAYMENT_NOT_PENDING": ErrorSpec(
        409, "该笔支付无需确认或已失效。",
        "This payment is not waiting for the holder's confirmation."),
    "PAYMENT_EXPIRED": ErrorSpec(
        410, "支付确认已超时，请重新发起支付。",
        "The payment was not confirmed in time; start a new payment."),
    "PAYMENT_NOT_REFUNDABLE": ErrorSpec(
        409, "该笔支付当前不能退款。", "This payment is not captured, so it cannot be refunded."),
    "REFUND_EXCEEDS_CAPTURED": ErrorSpec(
        422, "退款金额超过可退金额。",
        "The refund would exceed the captured amount less earlier refunds."),
    "REFUND_ID_CONFLICT": ErrorSpec(
        409, "该退款单号已用于金额不同的退款。",
        "This refund id was already used with another amount."),
    "ORDER_NOT_FOUND": ErrorSpec(
        404, "订单不存在或已失效，请让收银员重新出示收款码。",
        "The order code is unknown or has expired; ask the cashier for a new one."),
    "ORDER_ALREADY_PAID": ErrorSpec(
        409, "该订单已支付。", "This order is already paid."),
    # --- channel adapters ---------------------------------------------------
    "H5_TICKET_INVALID": ErrorSpec(
        401, "登录凭证无效、已使用或已过期，请从App重新进入。",
        "The sign-on ticket is invalid, used or expired; open the page from the app again."),
    "H5_SESSION_INVALID": ErrorSpec(
        401, "页面会话已失效，请从App重新进入。",
        "The page session is invalid or has expired; open the page from the app again."),
    "CHANNEL_NOT_PAYMENT_PLATFORM": ErrorSpec(
        403, "该渠道不是支付平台渠道。",
        "Only payment-platform channels (partner or social) map their own user ids."),
    "CHANNEL_USER_ID_INVALID": ErrorSpec(
        422, "渠道用户标识格式不正确。",
        "The user id must be 1 to 64 letters, digits, '-', '_' or '.'."),
    "CHANNEL_USER_ID_TAKEN": ErrorSpec(
        409, "该渠道用户标识已关联其他持卡人，或该持卡人已关联其他用户标识。",
        "This user id is linked to another holder, or this holder to another user id."),
    "MEDICAL_SETTLEMENT_INVALID": ErrorSpec(
        422, "医保结算参数不正确。",
        "The medical settlement amounts or policy are not valid (whole fen, parts within "
        "the total)."),
    "MEDICAL_CHANNEL_REQUIRED": ErrorSpec(
        403, "仅医疗机构渠道（医院、药店）可以进行医保结算。",
        "Only medical channels (hospitals, pharmacies) may settle a medical bill."),
    "MEDICAL_POLICY_UNKNOWN": ErrorSpec(
        422, "未配置参保地的医保结算政策。",
        "No medical insurance policy is configured for the insured region."),
    "PAYOUT_BANK_INVALID": ErrorSpec(
        422, "银行编码不正确。", "The bank code is not 2-16 letters or digits."),
    "PAYOUT_DAY_CLOSED": ErrorSpec(
        409, "该日期之后已生成过待遇发放文件，不能补生成更早的文件。",
        "A payout file for a later day exists; an earlier day cannot be generated now."),
    "PAYOUT_DAY_IN_FUTURE": ErrorSpec(
        422, "不能生成未来日期的待遇发放文件。", "A payout file cannot be made for a future day."),
    "BANK_UNAVAILABLE": ErrorSpec(
        503, "银行服务暂时不可用，请稍后再试。",
        "The card's bank cannot be reached right now; please try again later."),
    "BANK_REFUSED": ErrorSpec(
        502, "银行拒绝了该请求。", "The card's bank refused the request."),
    "BANK_NOT_CONNECTED": ErrorSpec(
        409, "您的社保卡开户银行暂未接入短信验证服务，请到开户银行网点办理。",
        "The card's bank is not connected for SMS codes; visit a branch of the card's bank."),
    # --- H5 pages -----------------------------------------------------------
    "H5_LINK_INVALID": ErrorSpec(
        401, "认证链接无效或已过期，请返回应用重新进入。",
        "This certification link is not valid or has expired; go back to the app and "
        "open it again."),
    "H5_CSRF_INVALID": ErrorSpec(
        403, "页面已过期，请刷新后重试。",
        "The request did not come from the platform's own page (missing or wrong "
        "X-Ecard-CSRF, or another origin); reload the page and try again."),
}


class EcardError(Exception):
    """An error a caller caused, answered as ``{"code", "message", "details"}``.

    Subclasses exist for the meanings code catches by type; any catalogue code can
    also be raised directly: ``EcardError("PIN_WRONG", details={"remaining": 3})``.
    """

    default_code = "BAD_REQUEST"

    def __init__(self, code: str | None = None, *, details: Any = None,
                 message: str | None = None, keeps_writes: bool = False) -> None:
        code = code or self.default_code
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code!r}; add it to ecard.errors.CATALOGUE")
        self.code = code
        self.details = details
        self.override_message = message
        # True when the refusal itself is a fact to keep (a wrong PIN try is counted):
        # Database.transaction commits what the transaction wrote, then re-raises.
        self.keeps_writes = keeps_writes
        super().__init__(f"{code}: {message or CATALOGUE[code].en}")

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        spec = CATALOGUE[self.code]
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.override_message or (spec.en if lang == "en" else spec.zh),
            "message_en": spec.en,
            "message_zh": spec.zh,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(EcardError):
    default_code = "VALIDATION_FAILED"


class NotFound(EcardError):
    default_code = "NOT_FOUND"


class AuthError(EcardError):
    """A channel token was refused; ``code`` says exactly why."""

    default_code = "AUTH_MALFORMED"


class FaceError(EcardError):
    """A face image cannot be used: none, several, too dark, too small, unreadable."""

    default_code = "FACE_NOT_FOUND"


class PinError(EcardError):
    default_code = "PIN_WRONG"


class ConflictError(EcardError):
    default_code = "IDEMPOTENCY_KEY_REUSED"


def catalogue_markdown() -> str:
    """The README's error table."""
    lines = ["| code | HTTP | message (zh) | message (en) |", "|---|---|---|---|"]
    for code, spec in CATALOGUE.items():
        lines.append(f"| `{code}` | {spec.status} | {spec.zh} | {spec.en} |")
    return "\n".join(lines)
