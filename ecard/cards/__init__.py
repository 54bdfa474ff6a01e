"""E-cards (电子社保卡): level-1 issuance per (person, channel), the PIN, unlinking,
the channel list and signed credentials. The API is ``ecard.cards.views.bp``."""
