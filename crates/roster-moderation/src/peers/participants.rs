//! A product's deletion participant (`roster.v1.DeletionParticipant`), called
//! with the deletion options until it acknowledges.

use async_trait::async_trait;
use roster_kit::{Result, client::PeerChannel};
use roster_proto::v1::{self as pb, deletion_participant_client::DeletionParticipantClient};
use tonic::Code;

use super::unavailable;
use crate::domain::{
    deletion::{Counts, DeletionOptions},
    ports::DeletionParticipant,
};

pub struct ParticipantClient {
    name: String,
    client: DeletionParticipantClient<PeerChannel>,
}

impl ParticipantClient {
    pub fn new(name: &str, channel: PeerChannel) -> Self {
        Self {
            name: name.to_owned(),
            client: DeletionParticipantClient::new(channel),
        }
    }
}

fn options(options: &DeletionOptions) -> pb::DeletionOptions {
    pb::DeletionOptions {
        delete_all: options.delete_all,
        mark_messages_deleted: options.mark_messages_deleted,
        hard_delete_posts: options.hard_delete_posts,
        hard_delete_comments: options.hard_delete_comments,
    }
}

#[async_trait]
impl DeletionParticipant for ParticipantClient {
    fn name(&self) -> &str {
        &self.name
    }

    async fn delete_user_content(
        &self,
        user_id: i64,
        deletion: &DeletionOptions,
        job_id: i64,
    ) -> Result<Counts> {
        self.client
            .clone()
            .delete_user_content(pb::DeleteUserContentRequest {
                user_id,
                options: Some(options(deletion)),
                job_id,
            })
            .await
            .map(|response| response.into_inner().erased.into_iter().collect())
            .map_err(|status| unavailable(&format!("deletion participant {}", self.name), status))
    }

    async fn preview(&self, user_id: i64, deletion: &DeletionOptions) -> Result<Option<Counts>> {
        match self
            .client
            .clone()
            .preview_user_content(pb::PreviewUserContentRequest {
                user_id,
                options: Some(options(deletion)),
            })
            .await
        {
            Ok(response) => Ok(Some(
                response.into_inner().would_erase.into_iter().collect(),
            )),
            Err(status) if status.code() == Code::Unimplemented => Ok(None),
            Err(status) => Err(unavailable(
                &format!("deletion participant {}", self.name),
                status,
            )),
        }
    }
}
