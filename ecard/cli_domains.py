"""The list of domain command groups added to ``ecard``."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    from ecard.channels.cli import register as register_channels

    register_channels(main)

    from ecard.faces.cli import register as register_faces

    register_faces(main)

    from ecard.registry.cli import registry

    main.add_command(registry)

    from ecard.certification.cli import register as register_certification
    from ecard.operators.cli import register as register_operators

    register_certification(main)
    register_operators(main)

    from ecard.payments.cli import payments

    main.add_command(payments)

    from ecard.notifications.cli import register as register_notifications

    register_notifications(main)

    from channel_adapters.cli import register as register_adapters

    register_adapters(main)
