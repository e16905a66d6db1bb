//! Compiles `proto/roster/v1/*.proto` with protox (pure Rust), so a plain
//! `cargo build` works on a machine without `protoc`.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let version_dir = proto_root.join("roster/v1");
    let mut files: Vec<PathBuf> = fs::read_dir(&version_dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    // Listed so that the descriptor set, and so reflection, can decode error
    // details; its generated Rust is unused (tonic-types has these types).
    files.push(proto_root.join("google/rpc/error_details.proto"));

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("roster_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // File content as shared buffers: decoded without a copy, and passed
        // to storage (or the network) as it arrived.
        .bytes(".roster.v1.UploadFileRequest.chunk")
        .bytes(".roster.v1.DownloadFileResponse.chunk")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;

    println!("cargo:rerun-if-changed={}", version_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        proto_root.join("google").display()
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(())
}
