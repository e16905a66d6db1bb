//! Keeps each user's network roles (`User.roles`) in step with the role
//! service: follows `WatchRoleEvents` from the last applied event, and applies
//! each event once even when several replicas follow the same stream.

use std::time::Duration;

use roster_kit::Error;
use roster_proto::v1 as pb;
use tokio::{sync::watch, task::AbortHandle};

use crate::{
    clients::RoleClient,
    domain::{NetworkRole, RoleChange},
    store::UserStore,
};

/// The running follower; stops when dropped.
pub struct RoleSync {
    applied: watch::Receiver<i64>,
    task: AbortHandle,
}

impl Drop for RoleSync {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RoleSync {
    pub fn start(store: UserStore, client: RoleClient, reconnect_delay: Duration) -> Self {
        let (applied, receiver) = watch::channel(0);
        let task = tokio::spawn(follow(store, client, applied, reconnect_delay)).abort_handle();
        Self {
            applied: receiver,
            task,
        }
    }

    /// Resolves once the role event at `cursor` (e.g. `GrantRoleResponse.event_cursor`)
    /// is reflected in users' roles.
    pub async fn wait_until_applied(&self, cursor: &str) -> Result<(), Error> {
        let target: i64 = cursor
            .parse()
            .map_err(|_| Error::invalid_field("cursor", "is not a role event cursor"))?;
        let mut applied = self.applied.clone();
        applied
            .wait_for(|position| *position >= target)
            .await
            .map(|_| ())
            .map_err(|_| Error::internal("the role follower stopped"))
    }
}

async fn follow(
    store: UserStore,
    mut client: RoleClient,
    applied: watch::Sender<i64>,
    reconnect_delay: Duration,
) {
    loop {
        if let Err(err) = follow_once(&store, &mut client, &applied).await {
            tracing::warn!(error = %err, "role event stream interrupted; reconnecting");
        }
        // Back off before reconnecting so a down role service is not hammered.
        tokio::time::sleep(reconnect_delay).await;
    }
}

async fn follow_once(
    store: &UserStore,
    client: &mut RoleClient,
    applied: &watch::Sender<i64>,
) -> Result<(), Error> {
    let position = store.role_sync_position().await?;
    applied.send_if_modified(|seen| advance(seen, position));
    let after_cursor = if position == 0 {
        String::new()
    } else {
        position.to_string()
    };
    let mut stream = client
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor,
            from_now: false,
        })
        .await
        .map_err(Error::internal)?
        .into_inner();
    while let Some(event) = stream.message().await.map_err(Error::internal)? {
        let Some(sequence) = event
            .meta
            .as_ref()
            .and_then(|m| m.cursor.parse::<i64>().ok())
        else {
            return Err(Error::internal("role event without a numeric cursor"));
        };
        let (user_id, change) = network_role_change(&event);
        store
            .apply_role_event(sequence, user_id, change.as_ref())
            .await?;
        applied.send_if_modified(|seen| advance(seen, sequence));
    }
    Ok(())
}

fn advance(seen: &mut i64, position: i64) -> bool {
    if position > *seen {
        *seen = position;
        true
    } else {
        false
    }
}

/// The user and change of a grant or revoke in the network scope; other
/// events change no user's network roles.
fn network_role_change(event: &pb::RoleEvent) -> (i64, Option<RoleChange>) {
    let Some(grant) = &event.grant else {
        return (0, None);
    };
    let network = matches!(
        grant.scope.as_ref().and_then(|s| s.scope.as_ref()),
        Some(pb::scope::Scope::Network(_))
    );
    if !network {
        return (grant.user_id, None);
    }
    let change = match event.kind() {
        pb::RoleEventKind::RoleGranted => Some(RoleChange::Granted(NetworkRole {
            role: grant.role.clone(),
            expires_at_ms: grant
                .expires_at
                .as_ref()
                .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
        })),
        pb::RoleEventKind::RoleRevoked => Some(RoleChange::Revoked {
            role: grant.role.clone(),
        }),
        _ => None,
    };
    (grant.user_id, change)
}
