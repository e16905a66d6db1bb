//! The client side of UploadFile: a byte buffer sent in chunks after its
//! header. Used by the tests and the benchmarks (as `roster_files::client`).

use bytes::Bytes;
use roster_proto::v1::{
    File, UploadFileHeader, UploadFileRequest, file_service_client::FileServiceClient,
    upload_file_request,
};
use tonic::{Status, client::GrpcService};

/// The messages of one upload: `header`, then `content` in `chunk_size` pieces.
pub fn upload_messages(
    header: UploadFileHeader,
    content: &[u8],
    chunk_size: usize,
) -> Vec<UploadFileRequest> {
    let mut messages = vec![UploadFileRequest {
        part: Some(upload_file_request::Part::Header(header)),
    }];
    messages.extend(
        content
            .chunks(chunk_size.max(1))
            .map(|chunk| UploadFileRequest {
                part: Some(upload_file_request::Part::Chunk(Bytes::copy_from_slice(
                    chunk,
                ))),
            }),
    );
    messages
}

/// Uploads `content` in `chunk_size` pieces and returns the stored file.
pub async fn upload<T>(
    client: &mut FileServiceClient<T>,
    header: UploadFileHeader,
    content: &[u8],
    chunk_size: usize,
) -> Result<File, Status>
where
    T: GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let messages = upload_messages(header, content, chunk_size);
    client
        .upload_file(futures::stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}
