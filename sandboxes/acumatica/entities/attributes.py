"""Attributes (CS205000) and the ``Attributes`` detail records carry (``AttributeValue``).

Field names and types are those of ``Default/24.200.001``'s ``AttributeDefinition``,
``AttributeDefinitionValue`` and ``AttributeValue`` schemas. ``ControlType`` holds the labels
of the Attributes form's Control Type box.
"""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, GUID, SHORT, EntityDef, Field, Link

CONTROL_TYPES = ("Text", "Combo", "Multi Select Combo", "Checkbox", "Datetime", "Selector")
#: Control types whose values must be one of the definition's ``Values``.
LISTED = ("Combo", "Multi Select Combo")

ATTRIBUTE_DEFINITION_VALUE = EntityDef(
    name="AttributeDefinitionValue",
    keys=("ValueID",),
    fields=(
        Field("ValueID"),
        Field("Description"),
        Field("Disabled", BOOLEAN),
        Field("SortOrder", SHORT),
    ),
    graph="PX.CS.CSAttributeMaint",
    view="AttributeDetails",
)

ATTRIBUTE_DEFINITION = EntityDef(
    name="AttributeDefinition",
    screen="Attributes",
    screen_id="CS205000",
    keys=("AttributeID",),
    graph="PX.CS.CSAttributeMaint",
    view="Attributes",
    fields=(
        Field("AttributeID"),
        Field("Description"),
        Field("ControlType", choices=CONTROL_TYPES),
        Field("EntryMask"),
        Field("RegExp"),
        Field("Internal", BOOLEAN),
        Field("CreatedDateTime", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(Link("Values", ATTRIBUTE_DEFINITION_VALUE.name, many=True),),
)

ATTRIBUTE_VALUE = EntityDef(
    name="AttributeValue",
    keys=("AttributeID",),
    fields=(
        Field("AttributeID", label="Attribute"),
        Field("Value"),
        Field("ValueDescription", read_only=True),
        Field("AttributeDescription", read_only=True),
        Field("Required", BOOLEAN, read_only=True),
        Field("IsActive", BOOLEAN, read_only=True),
        Field("RefNoteID", GUID, read_only=True),
    ),
    graph="PX.Objects.IN.InventoryItemMaint",
    view="Answers",
)

DEFINITIONS = (ATTRIBUTE_DEFINITION_VALUE, ATTRIBUTE_DEFINITION, ATTRIBUTE_VALUE)
