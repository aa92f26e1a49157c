"""Linked entities shared by several documents: addresses and contacts."""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, GUID, INT, EntityDef, Field, Link, fields

PHONE_TYPES = ("Business 1", "Business 2", "Business 3", "Business Fax", "Cell", "Home", "Home Fax")

ADDRESS = EntityDef(
    name="Address",
    fields=(
        *fields("AddressLine1 AddressLine2 City Country PostalCode State"),
        Field("Validated", BOOLEAN, read_only=True),
    ),
)

DOC_CONTACT = EntityDef(
    name="DocContact",
    fields=fields("Attention BusinessName Email Phone1"),
)

CONTACT = EntityDef(
    name="Contact",
    fields=(
        *fields(
            "Attention CompanyName DisplayName Email Fax FirstName JobTitle LastName MiddleName"
            " Phone2 Phone3 Title WebSite"
        ),
        Field("Active", BOOLEAN),
        Field("ContactID", INT, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
        Field("NoteID", GUID, read_only=True),
        Field("Phone1"),
        Field("Phone1Type", choices=PHONE_TYPES),
        Field("Phone2Type", choices=PHONE_TYPES),
    ),
    links=(Link("Address", "Address"),),
)

DEFINITIONS = (ADDRESS, DOC_CONTACT, CONTACT)
