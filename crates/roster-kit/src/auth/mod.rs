//! Caller identity: signed bearer tokens ([`TokenKeys`]), the typed [`Actor`]
//! handlers receive, and the tower layer that authenticates every call
//! ([`AuthLayer`]).

mod layer;
mod tokens;

use std::fmt;

pub use layer::{
    AuthLayer, AuthService, BearerToken, MethodSet, SessionCheck, actor, optional_actor,
    session_refused,
};
pub use tokens::{IssuedToken, TokenKeys};

/// Who is calling. Handlers receive it from [`actor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A platform/admin client: may do everything.
    Admin { client: String },
    /// A user session. `generation` is the user's token generation when the
    /// token was issued; revoking a user's tokens bumps it.
    User { user_id: i64, generation: i64 },
    /// One of Roster's own services calling another.
    Service { name: String },
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Admin { client } => write!(f, "admin:{client}"),
            Actor::User { user_id, .. } => write!(f, "user:{user_id}"),
            Actor::Service { name } => write!(f, "service:{name}"),
        }
    }
}
