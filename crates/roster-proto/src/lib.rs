//! Generated code for the `roster.v1` protobuf package.
//!
//! The `.proto` files under `proto/roster/v1/` are the API's documentation; this
//! crate only compiles them.

pub mod roster {
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("roster.v1");
    }
}

pub use roster::v1;

/// Encoded `FileDescriptorSet` of every Roster proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/roster_descriptor.bin"));
