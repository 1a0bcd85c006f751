"""The canonical data model of a retail bank: one declaration drives validation, storage and docs.

Every entity that Lodestar ingests is declared here once, as data: its fields with type, whether
they are required, allowed values, ranges, PII class and references to other entities. Ingestion
validates against it, the analytical store creates tables from it, and ``docs/data-model.md`` is
written from it (``lodestar schema --markdown``).

>>> from lodestar.data.schema import ENTITIES
>>> ENTITIES["transactions"].key
('transaction_id',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

from lodestar.errors import SchemaError


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"  # stored in UTC; input may carry an offset or use the default zone
    JSON = "json"  # a JSON object, stored as text


class Pii(StrEnum):
    """Personal data classes; the API masks them by role and logs never carry them."""

    NONE = "none"
    NAME = "name"
    PHONE = "phone"
    ID_NUMBER = "id_number"
    EMAIL = "email"
    ACCOUNT_ID = "account_id"  # third-party ids (WeCom, open id, device id)


class Store(StrEnum):
    ANALYTICAL = "analytical"
    OPERATIONAL = "operational"


ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.STRING: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    FieldType.JSON: pa.string(),
}

SQL_TYPES: dict[FieldType, str] = {
    FieldType.STRING: "VARCHAR",
    FieldType.INTEGER: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.DATE: "DATE",
    FieldType.TIMESTAMP: "TIMESTAMPTZ",
    FieldType.JSON: "VARCHAR",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pii: Pii = Pii.NONE
    #: ``entity.field`` that this field must match when not null (referential integrity).
    references: str | None = None
    #: Validated as an IANA time-zone name.
    time_zone: bool = False
    #: A regular expression the text must match (anchored).
    pattern: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    #: Where ingested rows land. Operational entities are mirrored into the analytical store so
    #: batch work (segments, plans) can join them; the operational copy is the source of truth.
    stores: tuple[Store, ...] = (Store.ANALYTICAL,)
    #: Field that orders rows in time (for partitioning and windows), if any.
    time_field: str | None = None
    #: At least one of these fields must be present in each row.
    one_of: tuple[str, ...] = ()
    #: How rows with an existing key are treated on re-ingestion: dimensions are replaced
    #: (``upsert``), facts keep the first arrival and skip the repeat (``insert_new``).
    on_existing: str = "upsert"
    _index: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({f.name: f for f in self.fields})
        missing = [k for k in self.key if k not in self._index]
        if missing:
            raise SchemaError(f"entity {self.name}: key fields {missing} are not declared")

    def field(self, name: str) -> Field:
        try:
            return self._index[name]
        except KeyError:
            raise SchemaError(
                f"entity '{self.name}' has no field '{name}'",
                hint=f"known fields: {', '.join(self.field_names)}",
            ) from None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(f.name, f.arrow_type, nullable=not f.required) for f in self.fields]
        )

    @property
    def references(self) -> list[Field]:
        return [f for f in self.fields if f.references]


# Fixed value sets. Codes are English identifiers; labels for people live in the UI catalogue.
GENDERS = ("male", "female", "unknown")
KYC_STATUSES = ("verified", "pending", "expired", "rejected")
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")  # CSRC / bank suitability: R1 lowest risk
INCOME_BANDS = ("lt5k", "5k_10k", "10k_20k", "20k_50k", "ge50k", "unknown")  # monthly, CNY
EMPLOYMENTS = (
    "employee", "civil_servant", "self_employed", "business_owner", "farmer",
    "retired", "student", "unemployed", "other", "unknown",
)  # fmt: skip
MARITAL_STATUSES = ("single", "married", "divorced", "widowed", "unknown")
EDUCATIONS = ("primary", "secondary", "tertiary", "postgraduate", "unknown")
CUSTOMER_STATUSES = ("active", "dormant", "closed")
PRODUCT_CATEGORIES = (
    "deposit", "wealth", "credit_card", "consumer_loan", "small_business_loan",
    "mortgage", "insurance", "payment",
)  # fmt: skip
ACCOUNT_STATUSES = ("active", "dormant", "delinquent", "closed")
TRANSACTION_TYPES = (
    "deposit", "withdrawal", "transfer_in", "transfer_out", "salary", "card_purchase",
    "bill_payment", "loan_drawdown", "loan_repayment", "wealth_purchase", "wealth_redemption",
    "insurance_premium", "interest", "fee", "refund", "purchase",
)  # fmt: skip
DIRECTIONS = ("credit", "debit")
TRANSACTION_CHANNELS = (
    "branch", "atm", "mobile_app", "online_banking", "mini_program", "wechat_pay", "alipay",
    "pos", "call_center", "mail", "other",
)  # fmt: skip
MERCHANT_CATEGORIES = (
    "dining", "groceries", "movies", "travel", "transport", "utilities", "telecom",
    "education", "healthcare", "retail", "online_shopping", "entertainment", "fuel",
    "property", "wholesale", "music", "other",
)  # fmt: skip
PLATFORMS = ("app", "web", "mini_program", "h5", "wecom", "other")
IDENTITY_TYPES = (
    "device_id", "phone", "open_id", "union_id", "app_user_id", "email", "cookie_id",
    "wecom_id", "ip",
)  # fmt: skip
CONTACT_CHANNELS = ("sms", "email", "app_push", "in_app", "wecom", "voice_robot", "telemarketing")
CONSENT_PURPOSES = ("marketing", "service")
CONSENT_SOURCES = ("app", "web", "branch", "call_center", "contract", "import", "other")
ARMS = ("treatment", "control")
OUTCOMES = ("no_response", "responded", "converted", "opted_out", "complained", "unknown")
SURVEY_TYPES = ("nps", "csat", "ces")
TOUCHPOINTS = (
    "app", "web", "mini_program", "branch", "call_center", "wecom", "sms", "email",
    "voice_robot", "atm", "other",
)  # fmt: skip
JOURNEY_STAGES = (
    "awareness", "registration", "application", "approval", "drawdown", "repayment",
    "servicing", "renewal", "closure", "other",
)  # fmt: skip
COMPLAINT_CATEGORIES = (
    "fees", "interest_rate", "service_attitude", "waiting_time", "app_experience",
    "marketing_harassment", "fraud_security", "product_mismatch", "credit_limit",
    "collection", "other",
)  # fmt: skip
COMPLAINT_STATUSES = ("open", "in_progress", "resolved", "closed")
SEVERITIES = ("low", "medium", "high")

_ID = r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}"


def _id(name: str, what: str, *, required: bool = True, references: str | None = None) -> Field:
    return Field(
        name, FieldType.STRING, what, required=required, references=references, pattern=_ID
    )


CUSTOMERS = Entity(
    name="customers",
    description="One row per customer: demographics, KYC, branch, contact ids, preferences.",
    key=("customer_id",),
    time_field="join_date",
    fields=(
        _id("customer_id", "Bank-wide customer identifier."),
        Field("name", FieldType.STRING, "Full name.", pii=Pii.NAME),
        Field("gender", FieldType.STRING, "Gender.", enum=GENDERS),
        Field("birth_date", FieldType.DATE, "Date of birth."),
        Field("id_number", FieldType.STRING, "National ID / passport number.", pii=Pii.ID_NUMBER),
        Field("kyc_status", FieldType.STRING, "Know-your-customer status.", enum=KYC_STATUSES),
        Field("kyc_verified_at", FieldType.DATE, "Date KYC was last verified."),
        Field(
            "risk_tolerance",
            FieldType.STRING,
            "Assessed risk tolerance (suitability), R1 lowest .. R5 highest.",
            enum=RISK_LEVELS,
        ),
        Field("branch_id", FieldType.STRING, "Home branch."),
        Field("region", FieldType.STRING, "Region / province of the home branch."),
        Field("city", FieldType.STRING, "City of residence."),
        Field("join_date", FieldType.DATE, "Date the customer relationship began.", required=True),
        Field("employment", FieldType.STRING, "Employment type.", enum=EMPLOYMENTS),
        Field("occupation", FieldType.STRING, "Occupation (free text or code)."),
        Field("income_band", FieldType.STRING, "Monthly income band (CNY).", enum=INCOME_BANDS),
        Field("annual_income", FieldType.FLOAT, "Declared annual income.", minimum=0),
        Field("marital_status", FieldType.STRING, "Marital status.", enum=MARITAL_STATUSES),
        Field("education", FieldType.STRING, "Highest education.", enum=EDUCATIONS),
        Field("phone", FieldType.STRING, "Mobile phone number.", pii=Pii.PHONE),
        Field("email", FieldType.STRING, "E-mail address.", pii=Pii.EMAIL),
        Field(
            "wecom_id",
            FieldType.STRING,
            "WeCom (企业微信) external contact id.",
            pii=Pii.ACCOUNT_ID,
        ),
        Field("app_user_id", FieldType.STRING, "Mobile-banking app user id.", pii=Pii.ACCOUNT_ID),
        Field(
            "time_zone",
            FieldType.STRING,
            "IANA time zone the customer lives in (contact hours are counted in it).",
            time_zone=True,
        ),
        Field(
            "acquisition_channel", FieldType.STRING, "Channel through which the customer joined."
        ),
        Field("status", FieldType.STRING, "Relationship status.", enum=CUSTOMER_STATUSES),
        Field("closed_date", FieldType.DATE, "Date the relationship ended, if it did."),
        Field("attributes", FieldType.JSON, "Further source attributes as a JSON object."),
    ),
)

PRODUCTS = Entity(
    name="products",
    description="The product catalogue: deposits, wealth, cards, loans, insurance.",
    key=("product_id",),
    fields=(
        _id("product_id", "Product code."),
        Field("name", FieldType.STRING, "Product name (zh-CN).", required=True),
        Field("name_en", FieldType.STRING, "Product name (English)."),
        Field("category", FieldType.STRING, "Product family.", required=True,
              enum=PRODUCT_CATEGORIES),
        Field("risk_level", FieldType.STRING, "Product risk rating R1..R5.", enum=RISK_LEVELS),
        Field("margin", FieldType.FLOAT, "Expected annual net margin on balance (fraction).",
              minimum=-1, maximum=1),
        Field("annual_fee", FieldType.FLOAT, "Annual fee income per holding.", minimum=0),
        Field("interest_rate", FieldType.FLOAT, "Customer rate (fraction per year).",
              minimum=0, maximum=1),
        Field("term_months", FieldType.INTEGER, "Term in months, if fixed.", minimum=0),
        Field("min_amount", FieldType.FLOAT, "Minimum amount / balance.", minimum=0),
        Field("launch_date", FieldType.DATE, "Date the product became available."),
        Field("active", FieldType.BOOLEAN, "Still sold."),
    ),
)  # fmt: skip

HOLDINGS = Entity(
    name="holdings",
    description="Accounts and holdings: one row per account, with its latest balance and limit.",
    key=("account_id",),
    time_field="open_date",
    fields=(
        _id("account_id", "Account / contract identifier."),
        _id("customer_id", "Owner.", references="customers.customer_id"),
        _id("product_id", "Product held.", references="products.product_id"),
        Field("open_date", FieldType.DATE, "Date opened.", required=True),
        Field("close_date", FieldType.DATE, "Date closed, if closed."),
        Field("status", FieldType.STRING, "Account status.", enum=ACCOUNT_STATUSES),
        Field("balance", FieldType.FLOAT, "Balance (outstanding for loans and cards)."),
        Field("credit_limit", FieldType.FLOAT, "Credit limit for cards and credit lines.", minimum=0),
        Field("interest_rate", FieldType.FLOAT, "Contract rate (fraction per year).",
              minimum=0, maximum=1),
        Field("days_past_due", FieldType.INTEGER, "Days past due (credit only).", minimum=0),
        Field("currency", FieldType.STRING, "ISO 4217 currency.", pattern=r"[A-Z]{3}"),
        Field("as_of_date", FieldType.DATE, "Date the balance was taken."),
    ),
)  # fmt: skip

TRANSACTIONS = Entity(
    name="transactions",
    description="Monetary transactions on customers' accounts.",
    key=("transaction_id",),
    time_field="ts",
    on_existing="insert_new",
    fields=(
        _id("transaction_id", "Transaction identifier."),
        _id("customer_id", "Customer.", references="customers.customer_id"),
        _id("account_id", "Account, if known.", required=False, references="holdings.account_id"),
        Field("ts", FieldType.TIMESTAMP, "When it happened.", required=True),
        Field("type", FieldType.STRING, "Transaction type.", required=True,
              enum=TRANSACTION_TYPES),
        Field("amount", FieldType.FLOAT, "Amount, always positive; see direction.",
              required=True, minimum=0),
        Field("direction", FieldType.STRING, "credit (money in) or debit (money out).",
              enum=DIRECTIONS),
        Field("currency", FieldType.STRING, "ISO 4217 currency.", pattern=r"[A-Z]{3}"),
        Field("channel", FieldType.STRING, "Where it was made.", enum=TRANSACTION_CHANNELS),
        Field("merchant_category", FieldType.STRING, "Merchant category (life scene).",
              enum=MERCHANT_CATEGORIES),
        Field("merchant_name", FieldType.STRING, "Merchant name."),
        Field("quantity", FieldType.INTEGER, "Units bought, for purchases.", minimum=0),
    ),
)  # fmt: skip

EVENTS = Entity(
    name="events",
    description="Behavioural events from the app, web, mini-program and WeCom.",
    key=("event_id",),
    time_field="ts",
    on_existing="insert_new",
    one_of=("customer_id", "anonymous_id"),
    fields=(
        _id("event_id", "Event identifier (duplicates are ignored)."),
        Field("ts", FieldType.TIMESTAMP, "When it happened.", required=True),
        _id("customer_id", "Customer, when known.", required=False,
            references="customers.customer_id"),
        Field("anonymous_id", FieldType.STRING, "Device / cookie id before login.",
              pii=Pii.ACCOUNT_ID),
        Field("platform", FieldType.STRING, "Where the event happened.", enum=PLATFORMS),
        Field("event_name", FieldType.STRING, "What happened, e.g. app_open, apply_start.",
              required=True, pattern=r"[a-z][a-z0-9_]{0,63}"),
        Field("session_id", FieldType.STRING, "Session, if the source sessionises."),
        Field("page", FieldType.STRING, "Page or screen."),
        Field("referrer", FieldType.STRING, "Previous page or referring URL."),
        Field("source", FieldType.STRING, "Traffic source (utm_source)."),
        Field("medium", FieldType.STRING, "Traffic medium (utm_medium)."),
        Field("campaign", FieldType.STRING, "Campaign (utm_campaign)."),
        Field("properties", FieldType.JSON, "Event properties as a JSON object."),
    ),
)  # fmt: skip

IDENTITIES = Entity(
    name="identities",
    description=(
        "Identifiers that belong to a customer (device id, phone, open id...). Events carrying "
        "one of them as anonymous_id are attributed to the customer (identity merge)."
    ),
    key=("id_type", "id_value"),
    fields=(
        Field("id_type", FieldType.STRING, "Kind of identifier.", required=True,
              enum=IDENTITY_TYPES),
        Field("id_value", FieldType.STRING, "The identifier.", required=True,
              pii=Pii.ACCOUNT_ID),
        _id("customer_id", "Customer it belongs to.", references="customers.customer_id"),
        Field("first_seen", FieldType.TIMESTAMP, "When the link was first observed."),
    ),
)  # fmt: skip

CONSENTS = Entity(
    name="consents",
    description="Consent per channel and purpose; the latest record per pair is in force.",
    key=("consent_id",),
    time_field="ts",
    stores=(Store.OPERATIONAL, Store.ANALYTICAL),
    fields=(
        _id("consent_id", "Consent record identifier."),
        _id("customer_id", "Customer.", references="customers.customer_id"),
        Field("channel", FieldType.STRING, "Contact channel.", required=True,
              enum=CONTACT_CHANNELS),
        Field("purpose", FieldType.STRING, "marketing or service.", required=True,
              enum=CONSENT_PURPOSES),
        Field("granted", FieldType.BOOLEAN, "True = consent given, False = refused.",
              required=True),
        Field("source", FieldType.STRING, "Where it was captured.", enum=CONSENT_SOURCES),
        Field("ts", FieldType.TIMESTAMP, "When it was captured.", required=True),
        Field("withdrawn_at", FieldType.TIMESTAMP, "When it was withdrawn, if it was."),
    ),
)  # fmt: skip

PAST_CAMPAIGNS = Entity(
    name="past_campaigns",
    description="Campaigns run before (or outside) Lodestar, whose contacts are history.",
    key=("campaign_id",),
    time_field="start_date",
    fields=(
        _id("campaign_id", "Campaign identifier."),
        Field("name", FieldType.STRING, "Campaign name.", required=True),
        Field("objective", FieldType.STRING, "What it tried to achieve."),
        _id("product_id", "Product promoted.", required=False, references="products.product_id"),
        Field("start_date", FieldType.DATE, "First contact date.", required=True),
        Field("end_date", FieldType.DATE, "Last outcome date."),
        Field("randomised", FieldType.BOOLEAN, "Arms were assigned at random.", required=True),
        Field("control_share", FieldType.FLOAT, "Share held out as control.",
              minimum=0, maximum=1),
        Field("channels", FieldType.STRING, "Channels used, comma-separated."),
    ),
)  # fmt: skip

CAMPAIGN_CONTACTS = Entity(
    name="campaign_contacts",
    description="Who was (or was not, in control) contacted in past campaigns, and the outcome.",
    key=("contact_id",),
    time_field="contacted_at",
    on_existing="insert_new",
    fields=(
        _id("contact_id", "Contact record identifier."),
        _id("campaign_id", "Campaign.", references="past_campaigns.campaign_id"),
        _id("customer_id", "Customer.", references="customers.customer_id"),
        Field("arm", FieldType.STRING, "treatment or control.", required=True, enum=ARMS),
        Field("treatment", FieldType.STRING, "Treatment variant (offer / message / channel)."),
        Field("channel", FieldType.STRING, "Contact channel (null for control).",
              enum=CONTACT_CHANNELS),
        Field("offer_id", FieldType.STRING, "Offer presented."),
        Field("contacted_at", FieldType.TIMESTAMP, "When assigned / contacted.", required=True),
        Field("outcome", FieldType.STRING, "Outcome within the attribution window.",
              enum=OUTCOMES),
        Field("responded", FieldType.BOOLEAN, "Responded (click, visit, call answered)."),
        Field("converted", FieldType.BOOLEAN, "Took up the product."),
        Field("revenue", FieldType.FLOAT, "Revenue attributed in the window."),
        Field("outcome_at", FieldType.TIMESTAMP, "When the outcome was observed."),
    ),
)  # fmt: skip

SURVEYS = Entity(
    name="surveys",
    description="Survey answers: NPS (0-10), CSAT (1-5), CES (1-7), by touchpoint and stage.",
    key=("response_id",),
    time_field="ts",
    on_existing="insert_new",
    fields=(
        _id("response_id", "Survey response identifier."),
        _id("customer_id", "Respondent.", required=False, references="customers.customer_id"),
        Field("survey_type", FieldType.STRING, "nps, csat or ces.", required=True,
              enum=SURVEY_TYPES),
        Field("score", FieldType.INTEGER, "Answer on the survey's scale.", required=True,
              minimum=0, maximum=10),
        Field("touchpoint", FieldType.STRING, "Touchpoint surveyed.", enum=TOUCHPOINTS),
        Field("journey_stage", FieldType.STRING, "Journey stage surveyed.", enum=JOURNEY_STAGES),
        Field("ts", FieldType.TIMESTAMP, "When answered.", required=True),
        Field("comment", FieldType.STRING, "Free-text comment."),
    ),
)  # fmt: skip

COMPLAINTS = Entity(
    name="complaints",
    description="Customer complaints (they start a contact cool-off and feed CX themes).",
    key=("complaint_id",),
    time_field="ts",
    fields=(
        _id("complaint_id", "Complaint identifier."),
        _id("customer_id", "Customer.", references="customers.customer_id"),
        Field("ts", FieldType.TIMESTAMP, "When raised.", required=True),
        Field("channel", FieldType.STRING, "Where it was raised.", enum=TOUCHPOINTS),
        Field("category", FieldType.STRING, "Category.", enum=COMPLAINT_CATEGORIES),
        _id("product_id", "Product concerned.", required=False,
            references="products.product_id"),
        Field("severity", FieldType.STRING, "Severity.", enum=SEVERITIES),
        Field("status", FieldType.STRING, "Handling status.", enum=COMPLAINT_STATUSES),
        Field("text", FieldType.STRING, "The complaint in the customer's words."),
        Field("resolved_at", FieldType.TIMESTAMP, "When resolved."),
    ),
)  # fmt: skip

#: All canonical entities in load order (referenced entities first).
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        CUSTOMERS,
        PRODUCTS,
        HOLDINGS,
        TRANSACTIONS,
        EVENTS,
        IDENTITIES,
        CONSENTS,
        PAST_CAMPAIGNS,
        CAMPAIGN_CONTACTS,
        SURVEYS,
        COMPLAINTS,
    )
}

SURVEY_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def entity(name: str) -> Entity:
    """Look an entity up by name, with a helpful error for a typo."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise SchemaError(
            f"unknown data kind '{name}'", hint=f"choose one of: {', '.join(ENTITIES)}"
        ) from None


def load_order(names: list[str] | None = None) -> list[Entity]:
    """Entities in an order where every reference points to an earlier one."""
    wanted = set(names) if names is not None else set(ENTITIES)
    return [e for e in ENTITIES.values() if e.name in wanted]


def to_markdown() -> str:
    """The data model as Markdown, for docs/data-model.md."""
    lines: list[str] = []
    for e in ENTITIES.values():
        stores = " + ".join(s.value for s in e.stores)
        lines += [
            f"## `{e.name}`",
            "",
            e.description,
            "",
            f"- key: `{', '.join(e.key)}`; stored in: {stores}; "
            f"re-ingested keys: {'replaced' if e.on_existing == 'upsert' else 'skipped'}",
        ]
        if e.one_of:
            lines.append(f"- each row needs at least one of: `{'`, `'.join(e.one_of)}`")
        lines += [
            "",
            "| field | type | required | rule | PII | description |",
            "|---|---|---|---|---|---|",
        ]
        for f in e.fields:
            rules = []
            if f.enum:
                rules.append("one of " + ", ".join(f"`{v}`" for v in f.enum))
            if f.minimum is not None:
                rules.append(f">= {f.minimum:g}")
            if f.maximum is not None:
                rules.append(f"<= {f.maximum:g}")
            if f.references:
                rules.append(f"references `{f.references}`")
            if f.time_zone:
                rules.append("IANA time zone")
            if f.pattern and f.pattern != _ID:
                rules.append(f"matches `{f.pattern}`")
            pii = "" if f.pii is Pii.NONE else f.pii.value
            lines.append(
                f"| `{f.name}` | {f.type.value} | {'yes' if f.required else ''} | "
                f"{'; '.join(rules)} | {pii} | {f.description} |"
            )
        lines.append("")
    return "\n".join(lines)


RESPONSE_TYPES = ("persuadable", "sure_thing", "lost_cause", "do_not_disturb")

#: Ground truth that only a synthetic bank can know: each customer's true response probability
#: with and without each past campaign's treatment. Never ingested from files; written by the
#: generator beside the canonical tables so later work can score a targeting policy against the
#: best possible one.
CAMPAIGN_TRUTH = Entity(
    name="campaign_truth",
    description="Synthetic only: true per-customer treatment effects of past randomised campaigns.",
    key=("campaign_id", "customer_id", "treatment"),
    on_existing="upsert",
    fields=(
        _id("campaign_id", "Campaign.", references="past_campaigns.campaign_id"),
        _id("customer_id", "Customer.", references="customers.customer_id"),
        Field("treatment", FieldType.STRING, "Treatment variant the effect is for.",
              required=True),
        Field("response_type", FieldType.STRING, "Latent type.", required=True,
              enum=RESPONSE_TYPES),
        Field("p_control", FieldType.FLOAT, "P(convert) without contact.", required=True,
              minimum=0, maximum=1),
        Field("p_treated", FieldType.FLOAT, "P(convert) with contact.", required=True,
              minimum=0, maximum=1),
        Field("uplift", FieldType.FLOAT, "p_treated - p_control.", required=True,
              minimum=-1, maximum=1),
        Field("expected_revenue", FieldType.FLOAT, "Revenue if converted.", minimum=0),
        Field("expected_p_control", FieldType.FLOAT,
              "P(convert) without contact, averaged over the latent type given the traits.",
              minimum=0, maximum=1),
        Field("expected_p_treated", FieldType.FLOAT,
              "P(convert) with contact, averaged over the latent type given the traits.",
              minimum=0, maximum=1),
        Field("expected_uplift", FieldType.FLOAT,
              "expected_p_treated - expected_p_control: the effect a policy knowing every "
              "latent trait could expect (uplift is one random draw around it).",
              minimum=-1, maximum=1),
    ),
)  # fmt: skip

#: Entities written by Lodestar itself, loadable through the same validated path but not
#: offered to ``lodestar ingest``.
AUXILIARY: dict[str, Entity] = {CAMPAIGN_TRUTH.name: CAMPAIGN_TRUTH}


def any_entity(name: str) -> Entity:
    """A canonical or auxiliary entity."""
    if name in AUXILIARY:
        return AUXILIARY[name]
    return entity(name)
