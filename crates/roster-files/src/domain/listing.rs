//! Listing a user's files, newest first, as far as the caller may see them.

use roster_kit::{Actor, Result};

use super::{
    Files, access,
    ports::ListQuery,
    types::{FilePage, Purpose},
};

/// A listing request, as parsed from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// 0: the calling user's own files.
    pub requested_owner: i64,
    pub purpose: Option<Purpose>,
    /// The position of the previous page's last file.
    pub before: Option<i64>,
    pub limit: u64,
}

/// One page, and whose files it lists.
#[derive(Debug, Clone)]
pub struct Listing {
    pub owner_user_id: i64,
    pub page: FilePage,
}

impl Files {
    /// A page of the files of the owner `request` names, limited to the public
    /// ones when the caller may not see the others.
    pub async fn list(&self, actor: &Actor, request: &ListRequest) -> Result<Listing> {
        let scope = access::listing_scope(actor, request.requested_owner, "owner_user_id")?;
        let page = self
            .repo
            .list(&ListQuery {
                owner_user_id: scope.owner_user_id,
                purpose: request.purpose,
                visibility: scope.visibility,
                before: request.before,
                limit: request.limit,
            })
            .await?;
        Ok(Listing {
            owner_user_id: scope.owner_user_id,
            page,
        })
    }
}
