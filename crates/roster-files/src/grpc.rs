//! `roster.v1.FileService` over tonic: authorise, convert, call the domain,
//! map the error.

use std::{pin::Pin, sync::Arc};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use roster_kit::{Actor, Error, auth::actor, paging};
use roster_proto::v1::{
    DeleteFileRequest, DeleteFileResponse, DeleteUserFilesRequest, DeleteUserFilesResponse,
    DownloadFileRequest, DownloadFileResponse, File, FilePurpose, FileVariant, FileVariantInfo,
    GetFileRequest, ListFilesRequest, ListFilesResponse, UploadFileRequest, download_file_response,
    file_service_server::FileService, upload_file_request,
};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    domain::{FileRecord, Files, NewUpload, Purpose, Variant, VariantInfo, access},
    store::SeaOrmFiles,
};

/// Largest `chunk` accepted in one upload message.
pub const MAX_UPLOAD_CHUNK: usize = 1024 * 1024;

/// Position of a listing page, bound to the query it belongs to.
#[derive(Clone, PartialEq, prost::Message)]
struct ListPosition {
    #[prost(int64, tag = "1")]
    owner_user_id: i64,
    #[prost(int32, tag = "2")]
    purpose: i32,
    #[prost(int64, tag = "3")]
    before_seq: i64,
}

/// The tonic service.
#[derive(Clone)]
pub struct FileApi {
    files: Arc<Files<SeaOrmFiles>>,
    url_base: Arc<str>,
}

impl FileApi {
    pub fn new(files: Arc<Files<SeaOrmFiles>>, url_base: &str) -> Self {
        Self {
            files,
            url_base: url_base.trim_end_matches('/').into(),
        }
    }

    fn file_url(&self, id: &str, variant: Variant) -> String {
        match variant {
            Variant::Original => format!("{}/{id}", self.url_base),
            other => format!("{}/{id}?variant={}", self.url_base, other.key_suffix()),
        }
    }

    fn variant_info(&self, id: &str, info: &VariantInfo) -> FileVariantInfo {
        FileVariantInfo {
            variant: variant_to_proto(info.variant) as i32,
            content_type: info.content_type.clone(),
            size: i64::try_from(info.size).unwrap_or(i64::MAX),
            width: info.width,
            height: info.height,
            url: self.file_url(id, info.variant),
        }
    }

    fn to_proto(&self, record: &FileRecord) -> File {
        File {
            id: record.id.clone(),
            owner_user_id: record.owner_user_id,
            name: record.name.clone(),
            content_type: record.content_type.clone(),
            size: i64::try_from(record.size).unwrap_or(i64::MAX),
            purpose: purpose_to_proto(record.purpose) as i32,
            width: record.width,
            height: record.height,
            sha256: record.sha256.clone(),
            variants: record
                .variants
                .iter()
                .map(|v| self.variant_info(&record.id, v))
                .collect(),
            created_at: Some(prost_types::Timestamp {
                seconds: record.created_at.timestamp(),
                nanos: i32::try_from(record.created_at.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            url: self.file_url(&record.id, Variant::Original),
        }
    }
}

fn purpose_to_proto(purpose: Purpose) -> FilePurpose {
    match purpose {
        Purpose::Attachment => FilePurpose::Attachment,
        Purpose::Avatar => FilePurpose::Avatar,
    }
}

fn purpose_from_proto(value: i32) -> Option<Purpose> {
    match FilePurpose::try_from(value).ok()? {
        FilePurpose::Attachment => Some(Purpose::Attachment),
        FilePurpose::Avatar => Some(Purpose::Avatar),
        FilePurpose::Unspecified => None,
    }
}

fn variant_to_proto(variant: Variant) -> FileVariant {
    match variant {
        Variant::Original => FileVariant::Original,
        Variant::Size64 => FileVariant::Size64,
        Variant::Size256 => FileVariant::Size256,
    }
}

fn variant_from_proto(value: i32) -> Result<Variant, Error> {
    match FileVariant::try_from(value) {
        Ok(FileVariant::Original) => Ok(Variant::Original),
        Ok(FileVariant::Size64) => Ok(Variant::Size64),
        Ok(FileVariant::Size256) => Ok(Variant::Size256),
        Err(_) => Err(Error::invalid_field("variant", "is not a known variant")),
    }
}

fn file_id(value: &str, field: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(value.trim())
        .map(|id| id.to_string())
        .map_err(|_| Error::invalid_field(field, "must be a file id returned by UploadFile"))
}

/// The content messages following the header, as the domain's chunk stream.
fn content_chunks(
    stream: Streaming<UploadFileRequest>,
) -> futures::stream::BoxStream<'static, Result<Bytes, Error>> {
    stream
        .filter_map(|message| async move {
            match message {
                Ok(UploadFileRequest {
                    part: Some(upload_file_request::Part::Chunk(chunk)),
                }) => Some(if chunk.len() > MAX_UPLOAD_CHUNK {
                    Err(Error::invalid_field(
                        "chunk",
                        format!("at most {MAX_UPLOAD_CHUNK} bytes per message"),
                    ))
                } else {
                    Ok(Bytes::from(chunk))
                }),
                Ok(UploadFileRequest {
                    part: Some(upload_file_request::Part::Header(_)),
                }) => Some(Err(Error::invalid_field(
                    "header",
                    "only the first message may carry the header",
                ))),
                Ok(UploadFileRequest { part: None }) => None,
                Err(status) => Some(Err(Error::new(
                    roster_kit::error::ErrorKind::Aborted,
                    "UPLOAD_ABORTED",
                    format!("the upload stream failed: {}", status.message()),
                ))),
            }
        })
        .boxed()
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<DownloadFileResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FileService for FileApi {
    #[tracing::instrument(skip_all)]
    async fn upload_file(
        &self,
        request: Request<Streaming<UploadFileRequest>>,
    ) -> Result<Response<File>, Status> {
        let actor = actor(&request)?;
        let mut stream = request.into_inner();
        let header = match stream.message().await {
            Ok(Some(UploadFileRequest {
                part: Some(upload_file_request::Part::Header(header)),
            })) => header,
            Ok(_) => {
                return Err(Error::invalid_field(
                    "header",
                    "the first message must carry the header",
                )
                .into());
            }
            Err(status) => return Err(status),
        };
        let owner = access::target_owner(&actor, header.owner_user_id, "header.owner_user_id")?;
        let upload = NewUpload::parse(
            header.name,
            &header.content_type,
            header.size,
            purpose_from_proto(header.purpose),
            owner,
        )?;
        let record = self.files.upload(upload, content_chunks(stream)).await?;
        Ok(Response::new(self.to_proto(&record)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_file(&self, request: Request<GetFileRequest>) -> Result<Response<File>, Status> {
        actor(&request)?;
        let id = file_id(&request.get_ref().file_id, "file_id")?;
        let record = self.files.get(&id).await?;
        Ok(Response::new(self.to_proto(&record)))
    }

    type DownloadFileStream = DownloadStream;

    #[tracing::instrument(skip_all)]
    async fn download_file(
        &self,
        request: Request<DownloadFileRequest>,
    ) -> Result<Response<Self::DownloadFileStream>, Status> {
        actor(&request)?;
        let request = request.into_inner();
        let id = file_id(&request.file_id, "file_id")?;
        let variant = variant_from_proto(request.variant)?;
        let (info, bytes) = self.files.download(&id, variant).await?;
        let first = DownloadFileResponse {
            part: Some(download_file_response::Part::Info(
                self.variant_info(&id, &info),
            )),
        };
        let chunks = bytes.map(|chunk| {
            chunk
                .map(|bytes| DownloadFileResponse {
                    part: Some(download_file_response::Part::Chunk(bytes.to_vec())),
                })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(
            futures::stream::once(async move { Ok(first) }).chain(chunks),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn list_files(
        &self,
        request: Request<ListFilesRequest>,
    ) -> Result<Response<ListFilesResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let owner = match (&actor, request.owner_user_id) {
            (Actor::User { user_id, .. }, 0) => *user_id,
            (_, id) if id > 0 => id,
            _ => {
                return Err(Error::invalid_field(
                    "owner_user_id",
                    "is required for admin and service callers",
                )
                .into());
            }
        };
        let purpose = match request.purpose {
            0 => None,
            value => Some(purpose_from_proto(value).ok_or_else(|| {
                Error::invalid_field("purpose", "must be UNSPECIFIED, ATTACHMENT or AVATAR")
            })?),
        };
        let page_size = paging::page_size(request.page_size, "page_size")?;
        let position = paging::decode::<ListPosition>(&request.page_token, "page_token")?;
        let before = match position {
            Some(position)
                if position.owner_user_id == owner && position.purpose == request.purpose =>
            {
                Some(position.before_seq)
            }
            Some(_) => {
                let mut err = Error::invalid_field("page_token", "belongs to a different query");
                err.reason = "PAGE_TOKEN_INVALID";
                return Err(err.into());
            }
            None => None,
        };
        let page = self.files.list(owner, purpose, before, page_size).await?;
        let next_page_token = match page.files.last() {
            Some((seq, _)) if page.has_more => paging::encode(&ListPosition {
                owner_user_id: owner,
                purpose: request.purpose,
                before_seq: *seq,
            }),
            _ => String::new(),
        };
        Ok(Response::new(ListFilesResponse {
            files: page.files.iter().map(|(_, f)| self.to_proto(f)).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_file(
        &self,
        request: Request<DeleteFileRequest>,
    ) -> Result<Response<DeleteFileResponse>, Status> {
        let actor = actor(&request)?;
        let id = file_id(&request.get_ref().file_id, "file_id")?;
        self.files.delete(&actor, &id).await?;
        Ok(Response::new(DeleteFileResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_user_files(
        &self,
        request: Request<DeleteUserFilesRequest>,
    ) -> Result<Response<DeleteUserFilesResponse>, Status> {
        let actor = actor(&request)?;
        if !access::is_privileged(&actor) {
            return Err(Error::permission_denied(
                "only admin and service callers may delete a user's files",
            )
            .into());
        }
        let user_id = request.get_ref().user_id;
        if user_id <= 0 {
            return Err(Error::invalid_field("user_id", "is required").into());
        }
        let deleted = self.files.delete_user_files(user_id).await?;
        Ok(Response::new(DeleteUserFilesResponse {
            deleted_count: i64::try_from(deleted).unwrap_or(i64::MAX),
        }))
    }
}
