//! The one role/permission table. Both front-ends ask it: the JSON API through
//! [`Session::require`](crate::Session::require) in its handlers, the web pages through the gate
//! on their routes. The README's role matrix is [`markdown`]'s output (a test keeps them equal).

use patron_store::Role;

/// Something a caller may or may not do, whatever the front-end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Any signed-in user: who am I, own tokens, language, sign-out, the work landing page.
    SignedIn,
    /// Customer records in the caller's scope: customers, contacts, orders, interactions,
    /// leads, the pool, follow-up, service, receivables of their customers.
    ReadRecords,
    /// The value report and dashboard: aggregate figures (without names for analysts).
    ViewValueReport,
    /// Recomputing the stored value figures.
    RefreshValues,
    /// The weighted value-score model.
    EditScoreModel,
    /// File imports (customers, orders, interactions) and their jobs.
    Import,
    /// Users, their roles and scopes, and hand-over of a user's customers.
    ManageUsers,
    /// Disabling and enabling users, changing their role or scope.
    AdministerUsers,
    /// The audit log.
    ReadAudit,
    /// Returning idle customers to the public pool (and previewing it).
    ReclaimPool,
    /// Receivables over the caller's scope: ageing, overdue and collections.
    ViewReceivables,
    /// Credit limits and the approval queue of held orders.
    ApproveCredit,
    /// The SLA sweep that escalates breached tickets.
    EscalateTickets,
    /// The follow-up cadence per ABC class.
    SetCadence,
    /// The per-rep review.
    ReviewReps,
    /// Campaigns and their returns (aggregates).
    ViewCampaigns,
    /// Creating campaigns.
    ManageCampaigns,
    /// Archiving customers the caller may change (what "delete" does: hidden from lists,
    /// everything kept), restoring them, and listing the archived ones.
    Archive,
    /// Purging a customer for good (a data subject's erasure request), with a reason, audited.
    Purge,
    /// Recording an interaction in someone else's name (`by`); others record as themselves.
    RecordForOthers,
    /// Sharing a saved view of the customer list with every user.
    ShareViews,
}

use Action::*;
use Role::*;

/// Who may do what: the single source of both front-ends' gates.
pub const PERMISSIONS: &[(Action, &str, &[Role])] = &[
    (SignedIn, "sign in, own tokens, language", &[Admin, Manager, Rep, Analyst]),
    (ReadRecords, "customer records in scope (customers, contacts, orders, interactions, leads, pool, follow-up, service, own receivables)", &[Admin, Manager, Rep]),
    (ViewValueReport, "value report and dashboard (aggregates; no names for analysts)", &[Admin, Manager, Analyst]),
    (RefreshValues, "recompute the value figures", &[Admin, Manager]),
    (EditScoreModel, "edit the value-score model", &[Admin, Manager]),
    (Import, "import files, read own import jobs", &[Admin, Manager]),
    (ManageUsers, "users, roles, hand-over (managers: within their scope)", &[Admin, Manager]),
    (AdministerUsers, "disable or enable users, change roles and scopes", &[Admin]),
    (ReadAudit, "the audit log", &[Admin]),
    (ReclaimPool, "return idle customers to the pool (within scope), preview it", &[Admin, Manager]),
    (ViewReceivables, "ageing, overdue, collections over the scope (reps: their own customers)", &[Admin, Manager, Rep]),
    (ApproveCredit, "credit limits, approve or reject held orders", &[Admin, Manager]),
    (EscalateTickets, "run the SLA escalation sweep", &[Admin, Manager]),
    (SetCadence, "follow-up cadence per ABC class", &[Admin, Manager]),
    (ReviewReps, "per-rep review", &[Admin, Manager]),
    (ViewCampaigns, "campaigns and their returns", &[Admin, Manager, Analyst]),
    (ManageCampaigns, "create campaigns", &[Admin, Manager]),
    (Archive, "archive (\"delete\") and restore customers they may change, list archived ones (reps: their own)", &[Admin, Manager, Rep]),
    (Purge, "purge a customer for good, with a reason (erasure requests; audited)", &[Admin]),
    (RecordForOthers, "record an interaction in another user's name (others record as themselves)", &[Admin, Manager]),
    (ShareViews, "share a saved view of the customer list with everyone", &[Admin, Manager]),
];

/// May a user of `role` do `action`?
pub fn allowed(role: Role, action: Action) -> bool {
    PERMISSIONS
        .iter()
        .find(|(a, _, _)| *a == action)
        .is_some_and(|(_, _, roles)| roles.contains(&role))
}

/// The table as Markdown (the README's role matrix).
pub fn markdown() -> String {
    let roles = [Admin, Manager, Rep, Analyst];
    let mut out = String::from(
        "| may | admin | manager | rep | analyst |\n| --- | --- | --- | --- | --- |\n",
    );
    for (action, what, _) in PERMISSIONS {
        out.push_str(&format!("| {what} |"));
        for r in roles {
            out.push_str(if allowed(r, *action) {
                " yes |"
            } else {
                " no |"
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_row() {
        let all = [
            SignedIn,
            ReadRecords,
            ViewValueReport,
            RefreshValues,
            EditScoreModel,
            Import,
            ManageUsers,
            AdministerUsers,
            ReadAudit,
            ReclaimPool,
            ViewReceivables,
            ApproveCredit,
            EscalateTickets,
            SetCadence,
            ReviewReps,
            ViewCampaigns,
            ManageCampaigns,
            Archive,
            Purge,
            RecordForOthers,
            ShareViews,
        ];
        for a in all {
            assert_eq!(
                PERMISSIONS.iter().filter(|(x, _, _)| *x == a).count(),
                1,
                "{a:?}"
            );
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn the_readme_prints_the_table() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&markdown()),
            "README's role matrix differs from the table; put this in it:\n{}",
            markdown()
        );
    }

    #[test]
    fn analysts_never_read_records_and_reps_no_population_figures() {
        assert!(!allowed(Analyst, ReadRecords));
        assert!(!allowed(Analyst, RefreshValues));
        assert!(!allowed(Rep, ViewValueReport));
        assert!(allowed(Rep, ReadRecords));
    }

    #[test]
    fn only_admins_purge_and_analysts_never_archive() {
        for r in [Manager, Rep, Analyst] {
            assert!(!allowed(r, Purge), "{r:?}");
        }
        assert!(allowed(Admin, Purge));
        assert!(allowed(Rep, Archive));
        assert!(!allowed(Analyst, Archive));
    }
}
