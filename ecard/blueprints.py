"""The one place that lists every domain's blueprint."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_blueprints(app: Flask, api: Api) -> None:
    from ecard.tokens.views import bp as tokens_bp
    from ecard.tokens.views import well_known

    app.register_blueprint(well_known)
    api.register_blueprint(tokens_bp)

    from ecard.channels import init_app as init_channels
    from ecard.channels.views import bp as channels_bp

    init_channels(app)
    api.register_blueprint(channels_bp)

    from ecard.cards.views import bp as cards_bp

    api.register_blueprint(cards_bp)

    from ecard.payments.views import bp as payments_bp
    from ecard.payments.views import level2_bp

    api.register_blueprint(level2_bp)
    api.register_blueprint(payments_bp)

    from ecard.certification.views import bp as certification_bp
    from ecard.operators.views import bp as operator_bp

    api.register_blueprint(certification_bp)
    api.register_blueprint(operator_bp)
    api.spec.components.security_scheme("operatorToken", {
        "type": "http", "scheme": "bearer", "description": "op_… from `ecard operator add`"})

    from ecard.tokens.views import identity_bp

    api.register_blueprint(identity_bp)

    from channel_adapters import init_app as init_adapters
    from channel_adapters.views import bp as adapters_bp

    init_adapters(app)
    api.register_blueprint(adapters_bp)

    from ecard.web.views import bp as h5_links_bp
    from ecard.web.views import pages as h5_pages

    api.register_blueprint(h5_links_bp)
    app.register_blueprint(h5_pages)
