//! The file service, for avatar files.

use async_trait::async_trait;
use prost::Message;
use roster_kit::{Error, client::PeerChannel};
use roster_proto::v1::{self as pb, file_service_client::FileServiceClient};
use tonic::Code;

use crate::domain::{avatars::AvatarFile, ports::AvatarFiles};

/// Reads file metadata from the file service.
#[derive(Clone)]
pub struct FileLookup {
    client: FileServiceClient<PeerChannel>,
}

impl FileLookup {
    pub fn new(channel: PeerChannel) -> Self {
        Self {
            client: FileServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl AvatarFiles for FileLookup {
    async fn file(&self, file_id: &str) -> Result<Option<AvatarFile>, Error> {
        let request = pb::GetFileRequest {
            file_id: file_id.to_owned(),
            ..Default::default()
        };
        match self.client.clone().get_file(request).await {
            Ok(response) => Ok(Some(avatar_file(response.into_inner()))),
            // A malformed id names no file either.
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                Ok(None)
            }
            Err(status) => Err(super::unavailable("file", status)),
        }
    }
}

fn avatar_file(file: pb::File) -> AvatarFile {
    AvatarFile {
        owner_user_id: file.owner_user_id,
        is_avatar: file.purpose() == pb::FilePurpose::Avatar,
        description: file.encode_to_vec(),
    }
}
