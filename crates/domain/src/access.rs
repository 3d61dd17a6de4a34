//! Roles and data scopes: what a user may do and whose customers they see. The permission
//! table that maps roles to actions is the application layer's (`patron-app`); the scopes are
//! resolved to owners by the store.

use serde::Serialize;

/// What a user is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Rep,
    Analyst,
}

impl Role {
    pub const NAMES: [&'static str; 4] = ["admin", "manager", "rep", "analyst"];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Rep => "rep",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            "rep" => Some(Role::Rep),
            "analyst" => Some(Role::Analyst),
            _ => None,
        }
    }

    /// The data scope a user of this role gets unless given another.
    pub fn default_scope(self) -> DataScope {
        match self {
            Role::Admin => DataScope::All,
            Role::Manager => DataScope::DepartmentTree,
            Role::Rep => DataScope::Own,
            Role::Analyst => DataScope::None,
        }
    }
}

/// Whose customers a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    Own,
    Subordinates,
    Department,
    DepartmentTree,
    All,
    /// No customer records (analysts: aggregate figures only).
    None,
}

impl DataScope {
    pub const NAMES: [&'static str; 6] = [
        "own",
        "subordinates",
        "department",
        "department_tree",
        "all",
        "none",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::Own => "own",
            DataScope::Subordinates => "subordinates",
            DataScope::Department => "department",
            DataScope::DepartmentTree => "department_tree",
            DataScope::All => "all",
            DataScope::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<DataScope> {
        DataScope::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| match i {
                0 => DataScope::Own,
                1 => DataScope::Subordinates,
                2 => DataScope::Department,
                3 => DataScope::DepartmentTree,
                4 => DataScope::All,
                _ => DataScope::None,
            })
    }
}
