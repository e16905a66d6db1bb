//! Listing and searching users, page by page (the query itself and its page
//! tokens: [`super::query`]).

use roster_kit::{Actor, Error};

use super::{
    Directory, User,
    query::{Phase, UserQuery},
};

impl Directory {
    /// A page of users and, when more follow, the token of the next page. Any
    /// caller may search. A keyword of nothing but ignorable characters (a
    /// lone combining accent, a zero width joiner) would match every name: it
    /// is refused.
    pub async fn query(
        &self,
        _actor: &Actor,
        query: &UserQuery,
    ) -> Result<(Vec<User>, Option<String>), Error> {
        if let Some(keyword) = &query.keyword
            && self.collation.keyword(keyword).is_none()
        {
            return Err(Error::invalid_field(
                "keyword",
                "has nothing to match: only characters that search ignores (combining marks alone, joiners)",
            ));
        }
        let wanted = query.limit + 1;
        let mut found: Vec<(Phase, User)> = Vec::new();
        let start = query.after.as_ref().map(|p| p.phase);
        let mut started = start.is_none();
        for &phase in query.phases() {
            started |= Some(phase) == start;
            if !started {
                continue;
            }
            let after = query.after.as_ref().filter(|p| p.phase == phase);
            let remaining = wanted - found.len() as u64;
            let rows = self
                .users
                .query_phase(query, phase, after, remaining)
                .await?;
            found.extend(rows.into_iter().map(|user| (phase, user)));
            if found.len() as u64 >= wanted {
                break;
            }
        }
        let next = if found.len() as u64 > query.limit {
            found.truncate(query.limit as usize);
            found.last().map(|(phase, user)| {
                let sort_key = self.collation.sort_key(&user.display_name);
                query.page_token_after(*phase, sort_key, user.id)
            })
        } else {
            None
        };
        Ok((found.into_iter().map(|(_, user)| user).collect(), next))
    }
}
