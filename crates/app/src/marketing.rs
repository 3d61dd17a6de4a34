//! Relationship-marketing costs recorded per customer (SPEC R8): a visit, gift or event on the
//! customer card, or a campaign's cost allocated evenly over the customers it reached. A
//! customer with records is charged them in its margin and CLV instead of the flat marketing
//! rate (see [`patron_value::summary::RecordedCosts`]); its figures are recomputed at once.

use patron_store::{CampaignAllocation, MarketingCostInput, MarketingCostRecord, Store};

use crate::permissions::Action;
use crate::{AppError, Session};

/// Records a marketing cost of customer `id` (which the caller may change), audited in the
/// same transaction; the customer's value figures follow at once.
pub async fn record_cost(
    store: &Store,
    me: &Session,
    id: i64,
    input: MarketingCostInput,
) -> Result<MarketingCostRecord, AppError> {
    me.guard(store, id, true).await?;
    let audited = me.audited(store, "update", Some(id), "marketing cost {id} recorded");
    let r = audited
        .add_marketing_cost(id, input, &me.actor.name, patron_domain::order::today())
        .await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(r)
}

/// The recorded marketing costs of customer `id` (which the caller may read), newest first.
pub async fn costs_of(
    store: &Store,
    me: &Session,
    id: i64,
) -> Result<Vec<MarketingCostRecord>, AppError> {
    me.guard(store, id, false).await?;
    Ok(store.marketing_costs_of(id).await?)
}

/// Allocates campaign `campaign_id`'s cost evenly over the customers it reached (mailed by
/// it or brought by it), replacing an earlier allocation of it; audited. Needs
/// [`Action::ManageCampaigns`] and a scope of every customer (the allocation charges every
/// customer the campaign reached, whoever owns them). The charged customers' figures follow
/// at once.
pub async fn allocate_campaign(
    store: &Store,
    me: &Session,
    campaign_id: i64,
) -> Result<CampaignAllocation, AppError> {
    me.require(Action::ManageCampaigns)?;
    if !matches!(me.visible, patron_store::Visibility::All) {
        return Err(AppError::Forbidden(
            "allocating a campaign's cost charges every customer it reached: it needs a data scope of every customer".into(),
        ));
    }
    let audited = me.audited(
        store,
        "campaign_cost_allocated",
        None,
        format!("campaign {campaign_id}: cost allocated over the customers it reached"),
    );
    let out = audited
        .allocate_campaign_cost(campaign_id, &me.actor.name)
        .await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &out.customer_ids).await;
    Ok(out)
}
