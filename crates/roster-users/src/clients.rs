//! gRPC clients of the other services the user service calls.

use futures::future::BoxFuture;
use roster_kit::{Error, auth::BearerToken, client::lazy_channel, error::ErrorKind};
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient, role_service_client::RoleServiceClient,
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::domain::AvatarFiles;

/// The file service, for avatar files.
#[derive(Clone)]
pub struct FileLookup {
    client: FileServiceClient<InterceptedService<Channel, BearerToken>>,
}

impl FileLookup {
    pub fn new(endpoint: &str, service_token: &str) -> Result<Self, Error> {
        let channel = lazy_channel(endpoint, "endpoints.files")?;
        Ok(Self {
            client: FileServiceClient::with_interceptor(channel, BearerToken::new(service_token)?),
        })
    }

    /// The file's metadata; `None` when it does not exist.
    pub async fn get(&self, file_id: &str) -> Result<Option<pb::File>, Error> {
        match self
            .client
            .clone()
            .get_file(pb::GetFileRequest {
                file_id: file_id.to_owned(),
            })
            .await
        {
            Ok(response) => Ok(Some(response.into_inner())),
            // A malformed id names no file either.
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                Ok(None)
            }
            Err(status) => Err(Error::new(
                ErrorKind::Unavailable,
                "UNAVAILABLE",
                "the file service did not answer",
            )
            .with_source(status)),
        }
    }
}

impl AvatarFiles for FileLookup {
    fn avatar_owner<'a>(&'a self, file_id: &'a str) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        Box::pin(async move {
            Ok(self
                .get(file_id)
                .await?
                .filter(|file| file.purpose() == pb::FilePurpose::Avatar)
                .map(|file| file.owner_user_id))
        })
    }
}

/// The role service, for its event stream.
pub type RoleClient = RoleServiceClient<InterceptedService<Channel, BearerToken>>;

pub fn role_client(endpoint: &str, service_token: &str) -> Result<RoleClient, Error> {
    let channel = lazy_channel(endpoint, "endpoints.roles")?;
    Ok(RoleServiceClient::with_interceptor(
        channel,
        BearerToken::new(service_token)?,
    ))
}
