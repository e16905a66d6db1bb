//! The file service: erasing every file of a deleted user.

use async_trait::async_trait;
use roster_kit::{Result, client::PeerChannel};
use roster_proto::v1::{self as pb, file_service_client::FileServiceClient};

use super::unavailable;
use crate::domain::ports::UserFiles;

pub struct FileClient {
    client: FileServiceClient<PeerChannel>,
}

impl FileClient {
    pub fn new(channel: PeerChannel) -> Self {
        Self {
            client: FileServiceClient::new(channel),
        }
    }

    async fn delete(&self, user_id: i64, dry_run: bool) -> Result<i64> {
        self.client
            .clone()
            .delete_user_files(pb::DeleteUserFilesRequest { user_id, dry_run })
            .await
            .map(|response| response.into_inner().deleted_count)
            .map_err(|status| unavailable("file service", status))
    }
}

#[async_trait]
impl UserFiles for FileClient {
    async fn erase_user_files(&self, user_id: i64) -> Result<i64> {
        self.delete(user_id, false).await
    }

    async fn count_user_files(&self, user_id: i64) -> Result<i64> {
        self.delete(user_id, true).await
    }
}
