//! The `roster.v1.UserService` transport: decode, authenticate, convert, call
//! the domain, encode.

mod convert;
mod service;
mod watch;

pub use convert::struct_from_json;
pub use service::UserApi;
