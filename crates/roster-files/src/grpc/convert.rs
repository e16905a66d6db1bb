//! Requests parsed into the domain's types (invalid input named by its field),
//! and the domain's answers built into the wire's views.

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use roster_kit::{Error, Result, error::ErrorKind, paging};
use roster_proto::v1::{
    CreateDownloadLinkRequest, CreateDownloadLinkResponse, DeleteUserFilesRequest,
    DownloadFileRequest, DownloadFileResponse, File, FilePurpose, FileVariant, FileVariantInfo,
    FileVisibility, GetFileRequest, ListFilesRequest, ListFilesResponse, UploadFileHeader,
    UploadFileRequest, download_file_response, upload_file_request,
};
use tonic::{Request, Status, Streaming};

use crate::domain::{
    FileId, FileRecord, Purpose, Variant, VariantInfo, Visibility,
    access::Caller,
    deletion::UserFilesDeletion,
    downloads::{Download, FileRead},
    links::{DownloadLink, LinkTtl},
    listing::{ListRequest, Listing},
    uploads::{NewUpload, RequestedVisibility},
};

/// Largest `chunk` accepted in one upload message.
pub const MAX_UPLOAD_CHUNK: usize = 1024 * 1024;

/// Who calls a method that may be called without a token: the auth layer's
/// verdict on the bearer token, if one was sent.
pub fn caller<T>(request: &Request<T>) -> Caller {
    Caller::new(
        roster_kit::auth::optional_actor(request),
        request.metadata().contains_key("authorization"),
    )
}

pub fn purpose_to_proto(purpose: Purpose) -> FilePurpose {
    match purpose {
        Purpose::Attachment => FilePurpose::Attachment,
        Purpose::Avatar => FilePurpose::Avatar,
    }
}

/// `None` for UNSPECIFIED and for values this server does not know.
pub fn purpose_from_proto(value: i32) -> Option<Purpose> {
    match FilePurpose::try_from(value).ok()? {
        FilePurpose::Attachment => Some(Purpose::Attachment),
        FilePurpose::Avatar => Some(Purpose::Avatar),
        FilePurpose::Unspecified => None,
    }
}

pub fn visibility_to_proto(visibility: Visibility) -> FileVisibility {
    match visibility {
        Visibility::Private => FileVisibility::Private,
        Visibility::Public => FileVisibility::Public,
    }
}

pub fn visibility_from_proto(value: i32) -> RequestedVisibility {
    match FileVisibility::try_from(value) {
        Ok(FileVisibility::Unspecified) => RequestedVisibility::Default,
        Ok(FileVisibility::Private) => RequestedVisibility::Exactly(Visibility::Private),
        Ok(FileVisibility::Public) => RequestedVisibility::Exactly(Visibility::Public),
        Err(_) => RequestedVisibility::Unknown,
    }
}

pub fn variant_to_proto(variant: Variant) -> FileVariant {
    match variant {
        Variant::Original => FileVariant::Original,
        Variant::Size64 => FileVariant::Size64,
        Variant::Size256 => FileVariant::Size256,
    }
}

pub fn variant_from_proto(value: i32) -> Result<Variant> {
    match FileVariant::try_from(value) {
        Ok(FileVariant::Unspecified | FileVariant::Original) => Ok(Variant::Original),
        Ok(FileVariant::Size64) => Ok(Variant::Size64),
        Ok(FileVariant::Size256) => Ok(Variant::Size256),
        Err(_) => Err(Error::invalid_field("variant", "is not a known variant")),
    }
}

/// An empty `link_token` is no link.
fn link_token(raw: String) -> Option<String> {
    Some(raw).filter(|token| !token.is_empty())
}

impl TryFrom<GetFileRequest> for FileRead {
    type Error = Error;

    fn try_from(request: GetFileRequest) -> Result<Self> {
        Ok(FileRead {
            id: FileId::parse(&request.file_id, "file_id")?,
            link_token: link_token(request.link_token),
        })
    }
}

/// Parses a download request: which file (and link), which rendition.
pub fn download_request(request: DownloadFileRequest) -> Result<(FileRead, Variant)> {
    let read = FileRead {
        id: FileId::parse(&request.file_id, "file_id")?,
        link_token: link_token(request.link_token),
    };
    Ok((read, variant_from_proto(request.variant)?))
}

/// Reads the header message of an upload and parses it; the rest of the
/// stream is the content.
pub async fn upload_request(
    mut stream: Streaming<UploadFileRequest>,
) -> Result<
    (
        UploadFileHeader,
        NewUpload,
        BoxStream<'static, Result<Bytes>>,
    ),
    Status,
> {
    let header = match stream.message().await? {
        Some(UploadFileRequest {
            part: Some(upload_file_request::Part::Header(header)),
        }) => header,
        _ => {
            return Err(
                Error::invalid_field("header", "the first message must carry the header").into(),
            );
        }
    };
    let upload = NewUpload::parse(
        &header.name,
        &header.content_type,
        header.size,
        purpose_from_proto(header.purpose),
        visibility_from_proto(header.visibility),
        header.owner_user_id,
    )?;
    Ok((header, upload, content_chunks(stream)))
}

/// One message after the header, as a piece of content (`None`: skip it).
fn content_chunk(message: Result<UploadFileRequest, Status>) -> Option<Result<Bytes>> {
    match message {
        Ok(UploadFileRequest {
            part: Some(upload_file_request::Part::Chunk(chunk)),
        }) => Some(if chunk.len() > MAX_UPLOAD_CHUNK {
            Err(Error::invalid_field(
                "chunk",
                format!("at most {MAX_UPLOAD_CHUNK} bytes per message"),
            ))
        } else {
            Ok(chunk)
        }),
        Ok(UploadFileRequest {
            part: Some(upload_file_request::Part::Header(_)),
        }) => Some(Err(Error::invalid_field(
            "header",
            "only the first message may carry the header",
        ))),
        Ok(UploadFileRequest { part: None }) => None,
        Err(status) => Some(Err(Error::new(
            ErrorKind::Aborted,
            "UPLOAD_ABORTED",
            format!("the upload stream failed: {}", status.message()),
        ))),
    }
}

/// The content messages following the header, as the domain's chunk stream.
fn content_chunks(stream: Streaming<UploadFileRequest>) -> BoxStream<'static, Result<Bytes>> {
    stream
        .filter_map(|message| async move { content_chunk(message) })
        .boxed()
}

/// Position of a listing page, bound to the request fields it belongs to.
#[derive(Clone, PartialEq, prost::Message)]
struct ListPosition {
    #[prost(int64, tag = "1")]
    owner_user_id: i64,
    #[prost(int32, tag = "2")]
    purpose: i32,
    #[prost(int64, tag = "3")]
    before_seq: i64,
}

/// A parsed ListFiles request, with the fields its page tokens are bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilesQuery {
    pub request: ListRequest,
    owner_user_id: i64,
    purpose: i32,
}

impl TryFrom<ListFilesRequest> for ListFilesQuery {
    type Error = Error;

    fn try_from(request: ListFilesRequest) -> Result<Self> {
        let purpose = match request.purpose {
            0 => None,
            value => Some(purpose_from_proto(value).ok_or_else(|| {
                Error::invalid_field("purpose", "must be UNSPECIFIED, ATTACHMENT or AVATAR")
            })?),
        };
        let limit = paging::page_size(request.page_size, "page_size")?;
        let before = match paging::decode::<ListPosition>(&request.page_token, "page_token")? {
            Some(position)
                if position.owner_user_id == request.owner_user_id
                    && position.purpose == request.purpose =>
            {
                Some(position.before_seq)
            }
            Some(_) => {
                let mut err = Error::invalid_field("page_token", "belongs to a different query");
                err.reason = "PAGE_TOKEN_INVALID";
                return Err(err);
            }
            None => None,
        };
        Ok(Self {
            request: ListRequest {
                requested_owner: request.owner_user_id,
                purpose,
                before,
                limit,
            },
            owner_user_id: request.owner_user_id,
            purpose: request.purpose,
        })
    }
}

impl ListFilesQuery {
    /// The token of the page after `listing`; empty on the last page.
    fn next_page_token(&self, listing: &Listing) -> String {
        match listing.page.files.last() {
            Some((seq, _)) if listing.page.has_more => paging::encode(&ListPosition {
                owner_user_id: self.owner_user_id,
                purpose: self.purpose,
                before_seq: *seq,
            }),
            _ => String::new(),
        }
    }
}

impl TryFrom<DeleteUserFilesRequest> for UserFilesDeletion {
    type Error = Error;

    fn try_from(request: DeleteUserFilesRequest) -> Result<Self> {
        UserFilesDeletion::parse(request.user_id, request.dry_run, "user_id")
    }
}

/// Parses a CreateDownloadLink request: which file, for how long.
pub fn link_request(request: &CreateDownloadLinkRequest) -> Result<(FileId, LinkTtl)> {
    Ok((
        FileId::parse(&request.file_id, "file_id")?,
        LinkTtl::parse(request.ttl_seconds, "ttl_seconds")?,
    ))
}

/// Builds the wire's views of files: their URLs are `<url_base>/<id>`.
#[derive(Debug, Clone)]
pub struct Views {
    url_base: std::sync::Arc<str>,
}

impl Views {
    pub fn new(url_base: &str) -> Self {
        Self {
            url_base: url_base.trim_end_matches('/').into(),
        }
    }

    fn file_url(&self, id: &str, variant: Variant) -> String {
        match variant {
            Variant::Original => format!("{}/{id}", self.url_base),
            other => format!("{}/{id}?variant={}", self.url_base, other.key_suffix()),
        }
    }

    pub fn variant_info(&self, id: &str, info: &VariantInfo) -> FileVariantInfo {
        FileVariantInfo {
            variant: variant_to_proto(info.variant) as i32,
            content_type: info.content_type.clone(),
            size: i64::try_from(info.size).unwrap_or(i64::MAX),
            width: info.width,
            height: info.height,
            url: self.file_url(id, info.variant),
        }
    }

    pub fn file(&self, record: &FileRecord) -> File {
        File {
            id: record.id.clone(),
            owner_user_id: record.owner_user_id,
            name: record.name.clone(),
            content_type: record.content_type.clone(),
            size: i64::try_from(record.size).unwrap_or(i64::MAX),
            purpose: purpose_to_proto(record.purpose) as i32,
            visibility: visibility_to_proto(record.visibility) as i32,
            width: record.width,
            height: record.height,
            sha256: record.sha256.clone(),
            variants: record
                .variants
                .iter()
                .map(|v| self.variant_info(&record.id, v))
                .collect(),
            created_at: Some(timestamp(record.created_at)),
            url: self.file_url(&record.id, Variant::Original),
        }
    }

    pub fn list(&self, query: &ListFilesQuery, listing: &Listing) -> ListFilesResponse {
        ListFilesResponse {
            files: listing
                .page
                .files
                .iter()
                .map(|(_, f)| self.file(f))
                .collect(),
            next_page_token: query.next_page_token(listing),
        }
    }

    /// The link's URL is the file's own, with the token as a query parameter.
    pub fn link(&self, link: &DownloadLink) -> CreateDownloadLinkResponse {
        CreateDownloadLinkResponse {
            url: format!(
                "{}?token={}",
                self.file_url(&link.file_id, Variant::Original),
                link.token
            ),
            token: link.token.clone(),
            expires_at: Some(timestamp(link.expires_at)),
        }
    }

    /// The download stream: `info` first, then the chunks.
    pub fn download(
        &self,
        file_id: &FileId,
        download: Download,
    ) -> BoxStream<'static, Result<DownloadFileResponse, Status>> {
        let first = DownloadFileResponse {
            part: Some(download_file_response::Part::Info(
                self.variant_info(file_id.as_str(), &download.info),
            )),
        };
        let chunks = download.bytes.map(|chunk| {
            chunk
                .map(|bytes| DownloadFileResponse {
                    part: Some(download_file_response::Part::Chunk(bytes)),
                })
                .map_err(Status::from)
        });
        futures::stream::once(async move { Ok(first) })
            .chain(chunks)
            .boxed()
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FilePage, Visibility};
    use proptest::prelude::*;

    fn listing(owner_user_id: i64, last_seq: i64, has_more: bool) -> Listing {
        let record = FileRecord {
            id: "f".into(),
            owner_user_id,
            purpose: Purpose::Attachment,
            visibility: Visibility::Private,
            name: "f".into(),
            content_type: "text/plain".into(),
            size: 1,
            width: 0,
            height: 0,
            sha256: String::new(),
            variants: Vec::new(),
            created_at: chrono::Utc::now(),
        };
        Listing {
            owner_user_id,
            page: FilePage {
                files: vec![(last_seq, record)],
                has_more,
            },
        }
    }

    fn fields(err: &Error) -> Vec<&str> {
        err.violations.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn chunks_are_bounded_per_message() {
        let chunk = |len: usize| {
            content_chunk(Ok(UploadFileRequest {
                part: Some(upload_file_request::Part::Chunk(vec![0; len].into())),
            }))
        };
        assert!(matches!(chunk(MAX_UPLOAD_CHUNK), Some(Ok(b)) if b.len() == MAX_UPLOAD_CHUNK));
        let refused = chunk(MAX_UPLOAD_CHUNK + 1).and_then(Result::err);
        assert_eq!(refused.as_ref().map(fields), Some(vec!["chunk"]));
        assert!(content_chunk(Ok(UploadFileRequest { part: None })).is_none());
        let aborted = content_chunk(Err(Status::cancelled("gone"))).and_then(Result::err);
        assert_eq!(aborted.map(|e| e.reason), Some("UPLOAD_ABORTED"));
    }

    #[test]
    fn a_link_url_is_the_file_url_with_its_token() {
        let views = Views::new("https://api.example.com/v1/files/");
        let link = DownloadLink {
            file_id: "abc".into(),
            token: "t.o-k_en".into(),
            expires_at: chrono::Utc::now(),
        };
        assert_eq!(
            views.link(&link).url,
            "https://api.example.com/v1/files/abc?token=t.o-k_en"
        );
    }

    proptest! {
        #[test]
        fn any_enum_value_is_known_or_refused(value in any::<i32>()) {
            match variant_from_proto(value) {
                Ok(variant) => {
                    prop_assert!((0..=3).contains(&value));
                    if value != 0 {
                        prop_assert_eq!(variant_to_proto(variant) as i32, value);
                    }
                }
                Err(err) => prop_assert_eq!(fields(&err), vec!["variant"]),
            }
            match purpose_from_proto(value) {
                Some(purpose) => prop_assert_eq!(purpose_to_proto(purpose) as i32, value),
                None => prop_assert!(!(1..=2).contains(&value)),
            }
            match visibility_from_proto(value) {
                RequestedVisibility::Exactly(v) => prop_assert_eq!(visibility_to_proto(v) as i32, value),
                RequestedVisibility::Default => prop_assert_eq!(value, 0),
                RequestedVisibility::Unknown => prop_assert!(!(0..=2).contains(&value)),
            }
        }

        #[test]
        fn any_list_request_parses_or_names_its_field(
            owner in any::<i64>(),
            purpose in -1..4i32,
            page_size in any::<u32>(),
            page_token in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,40}"],
        ) {
            let request = ListFilesRequest { owner_user_id: owner, purpose, page_size, page_token };
            match ListFilesQuery::try_from(request) {
                Ok(query) => {
                    prop_assert!((1..=100).contains(&query.request.limit));
                    prop_assert_eq!(query.request.requested_owner, owner);
                }
                Err(err) => {
                    prop_assert_eq!(err.kind, ErrorKind::InvalidArgument);
                    let field = fields(&err);
                    prop_assert!(["purpose", "page_size", "page_token"].contains(&field[0]), "{:?}", field);
                    if field[0] == "page_token" {
                        prop_assert_eq!(err.reason, "PAGE_TOKEN_INVALID");
                    }
                }
            }
        }

        #[test]
        fn a_page_token_continues_only_its_own_query(
            owner in 0..5i64,
            other_owner in 0..5i64,
            purpose in 0..3i32,
            other_purpose in 0..3i32,
            seq in 1..i64::MAX,
        ) {
            let query = |owner_user_id, purpose, page_token: String| {
                ListFilesQuery::try_from(ListFilesRequest { owner_user_id, purpose, page_size: 0, page_token })
            };
            let first = query(owner, purpose, String::new()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let token = first.next_page_token(&listing(owner, seq, true));
            prop_assert!(!token.is_empty());
            prop_assert!(first.next_page_token(&listing(owner, seq, false)).is_empty());
            let same = query(owner, purpose, token.clone()).map(|q| q.request.before);
            prop_assert_eq!(same.ok(), Some(Some(seq)));
            let other = query(other_owner, other_purpose, token);
            if (other_owner, other_purpose) != (owner, purpose) {
                prop_assert_eq!(other.err().map(|e| e.reason), Some("PAGE_TOKEN_INVALID"));
            }
        }

        #[test]
        fn reads_carry_a_link_only_when_one_was_sent(file_id in any::<String>(), link in any::<String>()) {
            let parsed = FileRead::try_from(GetFileRequest { file_id: file_id.clone(), link_token: link.clone() });
            match parsed {
                Ok(read) => {
                    prop_assert_eq!(read.link_token.is_none(), link.is_empty());
                    prop_assert_eq!(Some(read.id), FileId::parse(&file_id, "file_id").ok());
                }
                Err(err) => prop_assert_eq!(fields(&err), vec!["file_id"]),
            }
        }

        #[test]
        fn cascade_and_link_requests_parse_or_name_their_field(user_id in any::<i64>(), dry_run in any::<bool>(), ttl in any::<u32>()) {
            match UserFilesDeletion::try_from(DeleteUserFilesRequest { user_id, dry_run }) {
                Ok(deletion) => prop_assert_eq!((deletion.user_id, deletion.dry_run), (user_id, dry_run)),
                Err(err) => {
                    prop_assert!(user_id <= 0);
                    prop_assert_eq!(fields(&err), vec!["user_id"]);
                }
            }
            let id = FileId::generate();
            let request = CreateDownloadLinkRequest { file_id: id.to_string(), ttl_seconds: ttl };
            match link_request(&request) {
                Ok((parsed, _)) => prop_assert_eq!(parsed, id),
                Err(err) => prop_assert_eq!(fields(&err), vec!["ttl_seconds"]),
            }
        }
    }
}
