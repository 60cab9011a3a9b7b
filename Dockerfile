# syntax=docker/dockerfile:1
# The operator image: a release build without the sandbox (`--no-default-features`), on a
# distroless base that runs as a non-root user.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Manifests first, so dependency builds are cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY sandbox/Cargo.toml sandbox/Cargo.toml
COPY testkit/Cargo.toml testkit/Cargo.toml
COPY bench/Cargo.toml bench/Cargo.toml
# Patched third-party crates (`[patch.crates-io]`, vendor/README.md), whole: they are dependencies.
COPY vendor vendor
RUN mkdir -p src sandbox/src testkit/src bench/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs sandbox/src/lib.rs \
 && echo 'fn main() {}' > sandbox/src/main.rs \
 && touch testkit/src/lib.rs bench/src/lib.rs && echo 'fn main() {}' > bench/src/main.rs \
 && cargo build --release --locked --no-default-features -p testjob-operator --bin testjob-operator \
 && rm -rf src sandbox/src testkit/src bench/src
COPY . .
# Touch the sources so cargo rebuilds the placeholder crates.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --no-default-features -p testjob-operator --bin testjob-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/testjob-operator /usr/local/bin/testjob-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/testjob-operator"]
CMD ["run"]
