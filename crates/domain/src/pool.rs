//! The public pool's rules: how many customers one user may hold, and after how many idle
//! days a customer of each value grade returns to the pool.

use serde::Serialize;

/// Days without an order or interaction after which a customer of each value grade
/// (`A`..`E`, `none` for customers without figures) returns to the pool.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolRules {
    pub cap: i64,
    pub reclaim_days: Vec<(String, i64)>,
}

impl PoolRules {
    pub fn days_for(&self, grade: Option<&str>) -> i64 {
        let g = grade.unwrap_or("none");
        self.reclaim_days
            .iter()
            .find(|(k, _)| k == g)
            .or_else(|| self.reclaim_days.iter().find(|(k, _)| k == "none"))
            .map_or(30, |(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grade_without_its_own_days_falls_back_to_none_then_30() {
        let r = PoolRules {
            cap: 500,
            reclaim_days: vec![("A".into(), 180), ("none".into(), 45)],
        };
        assert_eq!(r.days_for(Some("A")), 180);
        assert_eq!(r.days_for(Some("C")), 45);
        assert_eq!(r.days_for(None), 45);
        let bare = PoolRules {
            cap: 500,
            reclaim_days: vec![],
        };
        assert_eq!(bare.days_for(Some("B")), 30);
    }
}
