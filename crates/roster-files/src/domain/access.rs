//! Who may do what with which file. Pure rules over the caller and the file's
//! metadata; the operations call them before touching anything.
//!
//! Reading (GetFile, DownloadFile): a public file is anyone's to read; a
//! private one its owner's, admins', services' and the bearer's of a valid
//! download link made for it. Anyone else is refused by the first that
//! applies: a link that does not grant this file (FILE_LINK_INVALID), a
//! signed-in caller (FILE_ACCESS_DENIED), a bearer token the server did not
//! accept (TOKEN_INVALID), no credential at all (TOKEN_MISSING). An absent file
//! is NOT_FOUND only to a signed-in caller or a link for that id; to anyone else
//! it is refused like a private file, so ids cannot be probed anonymously.

use roster_kit::{Actor, Error, Result, error::ErrorKind};

use super::types::{FileRecord, Visibility};

/// Who is calling a method that may be called without a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A verified bearer token.
    Signed(Actor),
    /// A bearer token was sent but not accepted (invalid, expired, revoked).
    Refused,
    /// No bearer token.
    Anonymous,
}

impl Caller {
    /// From what the auth layer found: the verified actor, if any, and whether
    /// an `authorization` header was sent at all.
    pub fn new(actor: Option<Actor>, sent_a_token: bool) -> Self {
        match actor {
            Some(actor) => Caller::Signed(actor),
            None if sent_a_token => Caller::Refused,
            None => Caller::Anonymous,
        }
    }

    fn actor(&self) -> Option<&Actor> {
        match self {
            Caller::Signed(actor) => Some(actor),
            Caller::Refused | Caller::Anonymous => None,
        }
    }
}

/// What a download link presented with a read turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    /// No link was presented.
    Absent,
    /// A valid link for this file id.
    Grants(String),
    /// A link that grants nothing, and why.
    Invalid(&'static str),
}

fn link_invalid(why: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "FILE_LINK_INVALID",
        format!("the download link does not grant this file: {why}"),
    )
}

fn access_denied(id: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "FILE_ACCESS_DENIED",
        format!(
            "file {id} is private: only its owner, admins, services and the bearers of a download link for it may read it"
        ),
    )
}

/// Whether `caller`, with `link`, may read `file`.
pub fn may_read(caller: &Caller, link: &LinkCheck, file: &FileRecord) -> Result<()> {
    if file.visibility == Visibility::Public {
        return Ok(());
    }
    if caller
        .actor()
        .is_some_and(|actor| owns_or_privileged(actor, file.owner_user_id))
    {
        return Ok(());
    }
    granted_by_link(caller, link, &file.id)
}

/// Whether `caller` may learn that no file `id` exists (NOT_FOUND), rather than
/// be refused as for a private file.
pub fn may_learn_absence(caller: &Caller, link: &LinkCheck, id: &str) -> Result<()> {
    if caller.actor().is_some() {
        return Ok(());
    }
    granted_by_link(caller, link, id)
}

/// The last resort of a read: the link, or the refusal that fits the caller.
fn granted_by_link(caller: &Caller, link: &LinkCheck, id: &str) -> Result<()> {
    match link {
        LinkCheck::Grants(granted) if granted == id => Ok(()),
        LinkCheck::Grants(_) => Err(link_invalid("it was made for another file")),
        LinkCheck::Invalid(why) => Err(link_invalid(why)),
        LinkCheck::Absent => Err(match caller {
            Caller::Signed(_) => access_denied(id),
            Caller::Refused => Error::unauthenticated(
                "TOKEN_INVALID",
                "this file is private and the bearer token was not accepted (invalid, expired or revoked)",
            ),
            Caller::Anonymous => Error::unauthenticated(
                "TOKEN_MISSING",
                "this file is private: send `authorization: Bearer <token>` or a link_token",
            ),
        }),
    }
}

/// Which of a user's files a caller sees in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingScope {
    pub owner_user_id: i64,
    /// `Some(Public)` when the caller may see only the public ones.
    pub visibility: Option<Visibility>,
}

/// Whose files a listing shows, and which: a user lists its own (0 or its own
/// id) in full and another user's public files only; admins and services name
/// the owner and see everything.
pub fn listing_scope(actor: &Actor, requested_owner: i64, field: &str) -> Result<ListingScope> {
    let owner_user_id = match actor {
        Actor::User { user_id, .. } if requested_owner == 0 => *user_id,
        _ if requested_owner > 0 => requested_owner,
        Actor::User { .. } => {
            return Err(Error::invalid_field(
                field,
                "must be 0 (yourself) or a user id",
            ));
        }
        Actor::Admin { .. } | Actor::Service { .. } => return Err(owner_required(field)),
    };
    let sees_all = owns_or_privileged(actor, owner_user_id);
    Ok(ListingScope {
        owner_user_id,
        visibility: (!sees_all).then_some(Visibility::Public),
    })
}

fn owner_required(field: &str) -> Error {
    Error::invalid_field(field, "is required for admin and service callers")
}

/// The owner an upload targets: a user targets itself (0 or its own id); admin
/// and service callers must name one.
pub fn upload_owner(actor: &Actor, requested: i64, field: &str) -> Result<i64> {
    match actor {
        Actor::User { user_id, .. } => match requested {
            0 => Ok(*user_id),
            id if id == *user_id => Ok(id),
            _ => Err(Error::permission_denied(
                "a user may only upload files it owns",
            )),
        },
        Actor::Admin { .. } | Actor::Service { .. } if requested > 0 => Ok(requested),
        Actor::Admin { .. } | Actor::Service { .. } => Err(owner_required(field)),
    }
}

/// Only the owner, admins and services mint download links: whoever decides
/// who else may read a private file.
pub fn may_create_link(actor: &Actor, file: &FileRecord) -> Result<()> {
    if owns_or_privileged(actor, file.owner_user_id) {
        Ok(())
    } else {
        Err(Error::permission_denied(
            "only the file's owner, admins and services may create download links",
        ))
    }
}

/// The owner, admins and services act on a file without asking anyone.
pub fn owns_or_privileged(actor: &Actor, owner_user_id: i64) -> bool {
    match actor {
        Actor::User { user_id, .. } => *user_id == owner_user_id,
        Actor::Admin { .. } | Actor::Service { .. } => true,
    }
}

/// Only admins and services run the deletion cascade.
pub fn require_privileged(actor: &Actor) -> Result<()> {
    match actor {
        Actor::Admin { .. } | Actor::Service { .. } => Ok(()),
        Actor::User { .. } => Err(Error::permission_denied(
            "only admin and service callers may delete a user's files",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Purpose;

    fn user(user_id: i64) -> Actor {
        Actor::User {
            user_id,
            generation: 0,
        }
    }

    fn file(owner: i64, visibility: Visibility) -> FileRecord {
        FileRecord {
            id: "f-1".into(),
            owner_user_id: owner,
            purpose: Purpose::Attachment,
            visibility,
            name: "a".into(),
            content_type: "text/plain".into(),
            size: 1,
            width: 0,
            height: 0,
            sha256: String::new(),
            variants: Vec::new(),
            created_at: chrono::Utc::now(),
        }
    }

    fn reason(result: Result<()>) -> Option<&'static str> {
        result.err().map(|e| e.reason)
    }

    #[test]
    fn public_files_are_anyones_private_ones_their_owners_and_the_privileged() {
        let public = file(1, Visibility::Public);
        let private = file(1, Visibility::Private);
        for caller in [Caller::Anonymous, Caller::Refused, Caller::Signed(user(2))] {
            assert!(may_read(&caller, &LinkCheck::Absent, &public).is_ok());
        }
        for caller in [
            Caller::Signed(user(1)),
            Caller::Signed(Actor::Admin { client: "x".into() }),
            Caller::Signed(Actor::Service {
                name: "users".into(),
            }),
        ] {
            assert!(may_read(&caller, &LinkCheck::Absent, &private).is_ok());
        }
    }

    #[test]
    fn each_refusal_names_what_was_missing() {
        let private = file(1, Visibility::Private);
        let refused = |caller: Caller, link: LinkCheck| reason(may_read(&caller, &link, &private));
        assert_eq!(
            refused(Caller::Signed(user(2)), LinkCheck::Absent),
            Some("FILE_ACCESS_DENIED")
        );
        assert_eq!(
            refused(Caller::Refused, LinkCheck::Absent),
            Some("TOKEN_INVALID")
        );
        assert_eq!(
            refused(Caller::Anonymous, LinkCheck::Absent),
            Some("TOKEN_MISSING")
        );
        assert_eq!(
            refused(Caller::Anonymous, LinkCheck::Grants("f-2".into())),
            Some("FILE_LINK_INVALID")
        );
        assert_eq!(
            refused(
                Caller::Signed(user(2)),
                LinkCheck::Invalid("it has expired")
            ),
            Some("FILE_LINK_INVALID")
        );
        assert_eq!(
            refused(Caller::Anonymous, LinkCheck::Grants("f-1".into())),
            None
        );
    }

    #[test]
    fn only_credentials_learn_that_a_file_is_absent() {
        assert!(may_learn_absence(&Caller::Signed(user(2)), &LinkCheck::Absent, "f-9").is_ok());
        assert!(
            may_learn_absence(&Caller::Anonymous, &LinkCheck::Grants("f-9".into()), "f-9").is_ok()
        );
        assert_eq!(
            reason(may_learn_absence(
                &Caller::Anonymous,
                &LinkCheck::Absent,
                "f-9"
            )),
            Some("TOKEN_MISSING")
        );
    }

    #[test]
    fn listings_of_others_show_only_public_files() {
        let scope = |actor: &Actor, owner| listing_scope(actor, owner, "owner_user_id").ok();
        assert_eq!(
            scope(&user(1), 0),
            Some(ListingScope {
                owner_user_id: 1,
                visibility: None
            })
        );
        assert_eq!(
            scope(&user(1), 2),
            Some(ListingScope {
                owner_user_id: 2,
                visibility: Some(Visibility::Public)
            })
        );
        let admin = Actor::Admin { client: "x".into() };
        assert_eq!(
            scope(&admin, 2),
            Some(ListingScope {
                owner_user_id: 2,
                visibility: None
            })
        );
        assert!(scope(&admin, 0).is_none());
        assert!(scope(&user(1), -3).is_none());
    }
}
