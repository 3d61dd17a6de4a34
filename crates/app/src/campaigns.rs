//! Campaigns: recording one (with its cost, channel and start), optionally on customers chosen
//! on the list, who become its members and so its mail audience.

use patron_store::{CampaignInput, CampaignReport, Store};

use crate::{Action, AppError, Session};

/// Records a campaign (managers and admins: [`Action::ManageCampaigns`]). With `ids` (the
/// customers ticked on the list) it starts on them: every one is checked against the caller's
/// scope first (one outside refuses the whole selection) and they become its members. One
/// transaction with its `campaign` audit row, whatever the front-end.
pub async fn create(
    store: &Store,
    session: &Session,
    mut input: CampaignInput,
    ids: &[i64],
) -> Result<CampaignReport, AppError> {
    session.require(Action::ManageCampaigns)?;
    let chosen: Vec<i64> = if ids.is_empty() {
        Vec::new()
    } else {
        session.require_records()?;
        crate::lists::selection(store, session, ids)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    input.name = input.name.trim().to_string();
    Ok(store
        .start_campaign_on(input, &chosen, &session.actor)
        .await?)
}
