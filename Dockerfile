# syntax=docker/dockerfile:1
# One image for every Roster service: `docker build -t roster .`
# It runs `roster serve` (all services in one process) unless given other arguments,
# e.g. `docker run roster serve users` or `docker run roster migrate`.

FROM rust:1.95-slim-bookworm AS builder
# aws-lc-sys (TLS to PostgreSQL and S3) compiles C; cmake is its fallback build path.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p roster \
 && install -m 0755 target/release/roster /usr/local/bin/roster

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 roster \
 && useradd --system --uid 10001 --gid roster --home-dir /var/lib/roster \
      --no-create-home --shell /usr/sbin/nologin roster \
 && install -d -o roster -g roster /var/lib/roster /var/lib/roster/data
COPY --from=builder /usr/local/bin/roster /usr/local/bin/roster
WORKDIR /var/lib/roster
# In a container, listen on every interface; embedded-mode state goes under /var/lib/roster/data.
ENV ROSTER_LISTEN=0.0.0.0:50051 \
    ROSTER_DATA_DIR=/var/lib/roster/data
USER 10001:10001
EXPOSE 50051
ENTRYPOINT ["roster"]
CMD ["serve"]
