"""The `[kpi]` table of config.toml: which statuses mean what for the reports.

Only names live here; the arithmetic is in `kpi.compute`. Every field has a default that fits
the demo workspace, so a config without a `[kpi]` table still gets a full report.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadFunnelSettings(_Strict):
    """The lead funnel of one source (a Salesforce Lead object, usually)."""

    source: str = "salesforce:leads"
    mql: str = "MQL"
    # First touch: the status an SDR sets when they first work the lead. Its first entry after
    # MQL is the end of speed-to-lead and counts as the lead being accepted.
    accepted: list[str] = ["Working - Contacted"]
    rejected: list[str] = ["Unqualified"]
    sql: str = "SQL"
    # Salesforce converts a Lead into an Opportunity; the lead's status then reads "Converted"
    # (or whatever the org's converted status is).
    opportunity: str = "Converted"
    speed_to_lead_target_minutes: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _distinct(self) -> LeadFunnelSettings:
        clash = set(self.accepted) & set(self.rejected)
        if clash:
            raise ValueError(f"statuses {sorted(clash)} are both accepted and rejected")
        return self


class DeliverySettings(_Strict):
    """On-time delivery for one workflow: done means reaching `final_status` by the due date."""

    final_status: str
    due_field: str  # the record field holding the due date (Asana: due_on / due_at)


class KpiTarget(_Strict):
    """A tile's target: green when met, amber within `amber` of it (in the KPI's unit), red
    beyond. Whether higher is better is the KPI's own (its definition says)."""

    target: float
    amber: float = Field(0.0, ge=0)


DEFAULT_TARGETS: dict[str, KpiTarget] = {
    "first_pass_yield": KpiTarget(target=90.0, amber=10.0),
    "rework_rounds": KpiTarget(target=0.25, amber=0.25),
    "speed_to_lead_median": KpiTarget(target=5.0, amber=10.0),
    "speed_to_lead_within_target": KpiTarget(target=80.0, amber=15.0),
    "lead_acceptance_rate": KpiTarget(target=70.0, amber=10.0),
    "sla_compliance": KpiTarget(target=95.0, amber=10.0),
    "on_time_delivery": KpiTarget(target=90.0, amber=10.0),
}


class KpiSettings(_Strict):
    """Report settings; becomes `Config.kpi` (the `[kpi]` table)."""

    lead: LeadFunnelSettings = LeadFunnelSettings()
    # source id -> what "delivered" means there; sources not listed have no on-time delivery.
    delivery: dict[str, DeliverySettings] = {
        "asana:content-calendar": DeliverySettings(final_status="Live", due_field="due_on"),
    }
    audit_sample: int = Field(20, ge=1)  # `baton audit --sample` default
    audit_seed: int | None = None  # fixed seed for reproducible audits; None: seeded per period
    # KPI name -> its scorecard target ([kpi.targets.first_pass_yield] target = 90, amber = 10);
    # KPIs not listed show no red/amber/green.
    targets: dict[str, KpiTarget] = DEFAULT_TARGETS
    # The speed-to-lead distribution's band edges in minutes: 0-5, 5-15, 15-60, 60+.
    speed_to_lead_bands: list[float] = [5.0, 15.0, 60.0]
    # Record fields to break the scorecard down by (team, channel, region), besides the owner.
    segment_fields: list[str] = []

    @model_validator(mode="after")
    def _bands_ascending(self) -> KpiSettings:
        bands = self.speed_to_lead_bands
        if any(b <= 0 for b in bands) or bands != sorted(set(bands)):
            raise ValueError(f"speed_to_lead_bands: expected ascending positive minutes, "
                             f"found {bands}")
        return self

