//! `roster.v1.FileService` over tonic. Each handler: who calls → parse the
//! request ([`convert`]) → one domain call → the view. The rules, access
//! included, live in the domain.

pub mod convert;
pub mod upload_client;

use std::sync::Arc;

use futures::stream::BoxStream;
use roster_kit::{
    auth::actor,
    idempotency::{IdempotencyLedger, IdempotentCall},
};
use roster_proto::v1::{
    CreateDownloadLinkRequest, CreateDownloadLinkResponse, DeleteFileRequest, DeleteFileResponse,
    DeleteUserFilesRequest, DeleteUserFilesResponse, DownloadFileRequest, DownloadFileResponse,
    File, GetFileRequest, ListFilesRequest, ListFilesResponse, UploadFileRequest,
    file_service_server::FileService,
};
use tonic::{Request, Response, Status, Streaming};

use crate::domain::{FileId, Files, downloads::FileRead};
use convert::{ListFilesQuery, Views};

/// The tonic service.
#[derive(Clone)]
pub struct FileApi {
    files: Arc<Files>,
    views: Views,
    idempotency: IdempotencyLedger,
}

impl FileApi {
    /// Serves `files`; file URLs start with `url_base` (`<public_url>/v1/files`).
    pub fn new(files: Arc<Files>, url_base: &str, idempotency: IdempotencyLedger) -> Self {
        Self {
            files,
            views: Views::new(url_base),
            idempotency,
        }
    }
}

#[tonic::async_trait]
impl FileService for FileApi {
    #[tracing::instrument(skip_all)]
    async fn upload_file(
        &self,
        request: Request<Streaming<UploadFileRequest>>,
    ) -> Result<Response<File>, Status> {
        let actor = actor(&request)?;
        let metadata = request.metadata().clone();
        let (header, upload, chunks) = convert::upload_request(request.into_inner()).await?;
        // The header is the fingerprint: a retry is answered before its
        // content is read, and a size, name or type that differs is refused.
        let call = IdempotentCall::of("UploadFile", &actor, &metadata, &header)?;
        let api = self.clone();
        let work = async move {
            let record = api.files.upload(&actor, upload, chunks).await?;
            Ok(api.views.file(&record))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn get_file(&self, request: Request<GetFileRequest>) -> Result<Response<File>, Status> {
        let caller = convert::caller(&request);
        let read = FileRead::try_from(request.into_inner())?;
        let record = self.files.get(&caller, &read).await?;
        Ok(Response::new(self.views.file(&record)))
    }

    type DownloadFileStream = BoxStream<'static, Result<DownloadFileResponse, Status>>;

    #[tracing::instrument(skip_all)]
    async fn download_file(
        &self,
        request: Request<DownloadFileRequest>,
    ) -> Result<Response<Self::DownloadFileStream>, Status> {
        let caller = convert::caller(&request);
        let (read, variant) = convert::download_request(request.into_inner())?;
        let download = self.files.download(&caller, &read, variant).await?;
        Ok(Response::new(self.views.download(&read.id, download)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_files(
        &self,
        request: Request<ListFilesRequest>,
    ) -> Result<Response<ListFilesResponse>, Status> {
        let actor = actor(&request)?;
        let query = ListFilesQuery::try_from(request.into_inner())?;
        let listing = self.files.list(&actor, &query.request).await?;
        Ok(Response::new(self.views.list(&query, &listing)))
    }

    #[tracing::instrument(skip_all)]
    async fn create_download_link(
        &self,
        request: Request<CreateDownloadLinkRequest>,
    ) -> Result<Response<CreateDownloadLinkResponse>, Status> {
        let actor = actor(&request)?;
        let (id, ttl) = convert::link_request(request.get_ref())?;
        let link = self.files.create_download_link(&actor, &id, ttl).await?;
        Ok(Response::new(self.views.link(&link)))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_file(
        &self,
        request: Request<DeleteFileRequest>,
    ) -> Result<Response<DeleteFileResponse>, Status> {
        let actor = actor(&request)?;
        let id = FileId::parse(&request.get_ref().file_id, "file_id")?;
        self.files.delete(&actor, &id).await?;
        Ok(Response::new(DeleteFileResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_user_files(
        &self,
        request: Request<DeleteUserFilesRequest>,
    ) -> Result<Response<DeleteUserFilesResponse>, Status> {
        let actor = actor(&request)?;
        let deletion = request.into_inner().try_into()?;
        let deleted = self.files.delete_user_files(&actor, deletion).await?;
        Ok(Response::new(DeleteUserFilesResponse {
            deleted_count: i64::try_from(deleted).unwrap_or(i64::MAX),
        }))
    }
}
