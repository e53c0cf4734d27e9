"""The fixed set of email categories a recipient can opt out of in the preference center.

Kept in code, not settings: the category keys end up stored on profiles
(``Profile.unsubscribed_categories``), so changing them is a data migration, not a knob.
"""

from django.db import models


class Category(models.TextChoices):
    NEWSLETTERS = "newsletters", "Newsletters"
    PRODUCT_UPDATES = "product_updates", "Product updates"
    OFFERS = "offers", "Offers"


def known_categories(keys) -> list[str]:
    """The given keys that are real categories, in the canonical order, without duplicates."""
    wanted = set(keys or ())
    return [value for value in Category.values if value in wanted]
