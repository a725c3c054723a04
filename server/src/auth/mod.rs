//! Sign-in: password hashing, bearer tokens, and the extractor that turns a token into the
//! user and device a request acts for.

mod extract;
pub mod limit;
pub mod password;
pub mod token;

pub use extract::{AuthUser, ClientAddress};
