# syntax=docker/dockerfile:1
# loadgate container image: a static binary on an empty base.
#
# Expected size: the static binary + the CA bundle (0.2 MB), nothing else (no
# shell, no libc, no /etc/passwd). Stripped, time/tzdata embedded, the AWS
# SDK (ECS, S3, STS) linked in (TestActionInEmptyRoot in internal/action logs
# it): 16.5 MB on 2026-12-03, 6.2 MB gzipped. So the image is about 17 MB
# uncompressed, about 6.3 MB compressed.
#
# Targets:
#   worker  non-root (65532), for `docker run` and the AWS Fargate workers.
#   action  (last, the default target) root, for running `loadgate action`
#           in a container of your own. The GitHub Action does not build this
#           file: action.yml runs the published image (Dockerfile.release,
#           built by GoReleaser from the release's binaries) with
#           `docker run --network host --user <runner's uid:gid>`, see
#           docs/github-action.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/loadgate/loadgate/internal/version.Version=${VERSION}" \
      -o /out/loadgate ./cmd/loadgate \
 && mkdir -p /out/tmp && chmod 1777 /out/tmp

FROM scratch AS worker
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/loadgate /loadgate
ENV TMPDIR=/tmp
USER 65532:65532
ENTRYPOINT ["/loadgate"]

FROM scratch AS action
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/loadgate /loadgate
ENV TMPDIR=/tmp
ENTRYPOINT ["/loadgate"]
CMD ["action"]
