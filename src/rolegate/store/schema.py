"""The relational schema (SQLAlchemy Core). Migrations under `migrations/` create it.

Names are unique case-insensitively per account: each named table keeps `name_key`, the
lowercased name, under a unique constraint. Unique ids (`AIDA...`) are the primary keys, so a
deleted and recreated principal of the same name is a different row with a different id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "access_keys",
    "accounts",
    "analyzed_resources",
    "analyzer_archive_rules",
    "analyzer_findings",
    "analyzers",
    "audit_data_events",
    "audit_event_resources",
    "audit_events",
    "console_sessions",
    "ec2_instances",
    "ec2_tags",
    "entity_tags",
    "group_members",
    "groups",
    "inline_policies",
    "login_profiles",
    "managed_policies",
    "metadata",
    "mfa_devices",
    "password_policies",
    "policy_attachments",
    "policy_versions",
    "roles",
    "signin_failures",
    "token_keys",
    "users",
]

metadata = MetaData()


def _when(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


accounts = Table(
    "accounts",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("alias", String(63), unique=True, nullable=True),
    Column("generation", BigInteger, nullable=False, default=0),
    _when("created_at"),
    # The root user's console password (argon2id), set with `rolegate account set-root-password`.
    Column("root_password_hash", String(256), nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("boundary_arn", String(2048), nullable=True),
    _when("created_at"),
    _when("password_last_used", nullable=True),
    UniqueConstraint("account_id", "name_key", name="uq_users_account_name"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    _when("created_at"),
    UniqueConstraint("account_id", "name_key", name="uq_groups_account_name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    PrimaryKeyConstraint("group_id", "user_id"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("trust_policy", Text, nullable=False),
    Column("description", String(1000), nullable=True),
    Column("max_session_duration", Integer, nullable=False),
    Column("boundary_arn", String(2048), nullable=True),
    _when("created_at"),
    _when("last_used_at", nullable=True),
    Column("last_used_region", String(64), nullable=True),
    UniqueConstraint("account_id", "name_key", name="uq_roles_account_name"),
)

entity_tags = Table(
    "entity_tags",
    metadata,
    Column("entity_id", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("key_lower", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("entity_id", "key_lower"),
)

inline_policies = Table(
    "inline_policies",
    metadata,
    Column("entity_id", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("document", Text, nullable=False),
    PrimaryKeyConstraint("entity_id", "name_key"),
)

managed_policies = Table(
    "managed_policies",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("description", String(1000), nullable=True),
    Column("default_version", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),
    _when("created_at"),
    _when("updated_at"),
    UniqueConstraint("account_id", "name_key", name="uq_policies_account_name"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", String(32), ForeignKey("managed_policies.id"), nullable=False),
    Column("version_id", String(16), nullable=False),
    Column("document", Text, nullable=False),
    _when("created_at"),
    PrimaryKeyConstraint("policy_id", "version_id"),
)

policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("entity_id", String(32), nullable=False),
    Column("policy_id", String(32), ForeignKey("managed_policies.id"), nullable=False),
    Column("entity_type", String(8), nullable=False),
    PrimaryKeyConstraint("entity_id", "policy_id"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=True),
    Column("secret", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    _when("created_at"),
    _when("last_used_at", nullable=True),
    Column("last_used_service", String(32), nullable=True),
    Column("last_used_region", String(32), nullable=True),
)

login_profiles = Table(
    "login_profiles",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("reset_required", Boolean, nullable=False),
    _when("created_at"),
    _when("password_changed_at", nullable=True),
    # JSON list of the previous password hashes (newest first), for PasswordReusePrevention.
    Column("previous_hashes", Text, nullable=True),
)

mfa_devices = Table(
    "mfa_devices",
    metadata,
    Column("serial", String(256), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(226), nullable=False),
    Column("name_key", String(226), nullable=False),
    Column("path", String(512), nullable=False),
    Column("seed", String(128), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=True),
    _when("enabled_at", nullable=True),
    Column("last_step", BigInteger, nullable=True),
    _when("created_at"),
    UniqueConstraint("account_id", "name_key", name="uq_mfa_account_name"),
)

token_keys = Table(
    "token_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("material", String(512), nullable=False),
    Column("active", Boolean, nullable=False),
    _when("created_at"),
)

# The account password policy (UpdateAccountPasswordPolicy); no row: AWS's default policy.
password_policies = Table(
    "password_policies",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.id"), primary_key=True),
    Column("minimum_length", Integer, nullable=False),
    Column("require_symbols", Boolean, nullable=False),
    Column("require_numbers", Boolean, nullable=False),
    Column("require_uppercase", Boolean, nullable=False),
    Column("require_lowercase", Boolean, nullable=False),
    Column("allow_users_to_change", Boolean, nullable=False),
    Column("max_age_days", Integer, nullable=True),
    Column("reuse_prevention", Integer, nullable=True),
    Column("hard_expiry", Boolean, nullable=False),
)

# Console sessions: the cookie carries a sealed session token and this row's id; sign-out
# (or expiry) ends the row, so a copied cookie is refused afterwards on every node.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("principal_id", String(32), nullable=False),
    _when("created_at"),
    _when("expires_at"),
    _when("ended_at", nullable=True),
)

# Failed console sign-ins per key ("user:<account>:<name>" or "ip:<address>") in the
# current window, shared by every node of the store.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("key", String(300), primary_key=True),
    _when("window_start"),
    Column("failures", Integer, nullable=False),
)

# The audit trail: one CloudTrail record per event and receiving account (a cross-account
# AssumeRole is two rows with one sharedEventID). `audit_events` holds the management events
# (what LookupEvents returns): its columns are the LookupEvents filters, `record` the whole
# CloudTrail JSON record. Data events (S3 object reads and writes, most of the volume) go to
# `audit_data_events`: LookupEvents never returns them, so they carry no lookup index.
audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    _when("event_time"),
    Column("event_name", String(128), nullable=False),
    Column("event_source", String(64), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("username", String(256), nullable=True),
    Column("access_key_id", String(32), nullable=True),
    Column("event_category", String(16), nullable=False),  # the record's, "Management"
    Column("record", Text, nullable=False),
    Index("ix_audit_events_account_time", "account_id", "event_time"),
    Index("ix_audit_events_name", "account_id", "event_name", "event_time"),
    Index("ix_audit_events_source", "account_id", "event_source", "event_time"),
    Index("ix_audit_events_username", "account_id", "username", "event_time"),
    Index("ix_audit_events_key", "account_id", "access_key_id", "event_time"),
    Index("ix_audit_events_read_only", "account_id", "read_only", "event_time"),
    Index("ix_audit_events_time", "event_time"),  # retention pruning
)

audit_data_events = Table(
    "audit_data_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    _when("event_time"),
    Column("event_name", String(128), nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_audit_data_events_account_time", "account_id", "event_time"),  # export, tail
    Index("ix_audit_data_events_time", "event_time"),  # retention pruning
)

audit_event_resources = Table(
    "audit_event_resources",
    metadata,
    Column(
        "event_id",
        String(36),
        ForeignKey("audit_events.event_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("account_id", String(12), nullable=False),
    _when("event_time"),
    Column("resource_type", String(128), nullable=True),
    Column("resource_name", String(2048), nullable=True),
    Index("ix_audit_resources_name", "account_id", "resource_name", "event_time"),
    Index("ix_audit_resources_type", "account_id", "resource_type", "event_time"),
    Index("ix_audit_resources_event", "event_id"),
)

# EC2 (`rolegate.ec2`): instances of an account in a region. `state` is the last state a
# call put it in at `state_changed_at`; the transient states (pending, stopping,
# shutting-down) end on the store's clock when read, so no timer writes rows.
ec2_instances = Table(
    "ec2_instances",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("reservation_id", String(32), nullable=False),
    Column("image_id", String(32), nullable=False),
    Column("instance_type", String(32), nullable=False),
    Column("key_name", String(255), nullable=True),
    Column("subnet_id", String(32), nullable=True),
    Column("private_ip", String(15), nullable=False),
    Column("launch_index", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    _when("state_changed_at"),
    _when("launch_time"),
    Column("disable_api_termination", Boolean, nullable=False),
    Index("ix_ec2_instances_account", "account_id", "region", "id"),
)

# EC2 tags (case-sensitive keys), by resource id.
ec2_tags = Table(
    "ec2_tags",
    metadata,
    Column("resource_id", String(32), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    PrimaryKeyConstraint("resource_id", "key"),
    Index("ix_ec2_tags_account", "account_id", "key"),
)

# IAM Access Analyzer (`rolegate.analyzer`): analyzers of an account in a region, their archive
# rules, findings (JSON columns hold the AWS-shaped maps and lists) and analyzed resources.
analyzers = Table(
    "analyzers",
    metadata,
    Column("arn", String(1024), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tags", Text, nullable=False),  # JSON object
    _when("created_at"),
    Column("last_resource_analyzed", String(2048), nullable=True),
    _when("last_resource_analyzed_at", nullable=True),
    UniqueConstraint("account_id", "region", "name", name="uq_analyzers_account_name"),
)

analyzer_archive_rules = Table(
    "analyzer_archive_rules",
    metadata,
    Column("analyzer_arn", String(1024), nullable=False),
    Column("name", String(255), nullable=False),
    Column("filter", Text, nullable=False),  # JSON FilterCriteriaMap
    _when("created_at"),
    _when("updated_at"),
    PrimaryKeyConstraint("analyzer_arn", "name"),
)

analyzer_findings = Table(
    "analyzer_findings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("analyzer_arn", String(1024), nullable=False),
    Column("resource_arn", String(2048), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_owner_account", String(12), nullable=False),
    Column("grant_key", String(2048), nullable=False),  # principal + condition, canonical JSON
    Column("principal", Text, nullable=False),  # JSON
    Column("actions", Text, nullable=False),  # JSON list
    Column("condition", Text, nullable=False),  # JSON map
    Column("is_public", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("sources", Text, nullable=True),  # JSON list (S3)
    Column("witness", Text, nullable=True),  # JSON request the engine allows
    _when("created_at"),
    _when("analyzed_at"),
    _when("updated_at"),
    Index("ix_analyzer_findings_resource", "analyzer_arn", "resource_arn"),
)

analyzed_resources = Table(
    "analyzed_resources",
    metadata,
    Column("analyzer_arn", String(1024), nullable=False),
    Column("resource_arn", String(2048), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_owner_account", String(12), nullable=False),
    Column("is_public", Boolean, nullable=False),
    Column("actions", Text, nullable=False),  # JSON list
    _when("created_at"),
    _when("analyzed_at"),
    _when("updated_at"),
    PrimaryKeyConstraint("analyzer_arn", "resource_arn"),
)
