//! Patron's domain: the customer record and what hangs off it (contacts, orders, interactions,
//! change history). Types validate when they are parsed, so the store and the API only ever see
//! valid values.

pub mod access;
pub mod customer;
pub mod error;
pub mod interaction;
pub mod money;
pub mod normalize;
pub mod order;
pub mod pipeline;
pub mod pool;
pub mod receivable;
pub mod service;
pub mod task;
pub mod text;

pub use customer::{
    Contact, ContactInput, CustomFields, CustomValue, Customer, CustomerInput, CustomerPatch,
    CustomerStatus, HistoryEntry, Loyalty, PurchaseRole,
};
pub use error::FieldError;
pub use interaction::{Interaction, InteractionInput, InteractionKind};
pub use money::{Currency, Money};
pub use order::{Order, OrderInput, OrderLine, OrderLineInput};
pub use text::{excerpt, excerpt_n};
