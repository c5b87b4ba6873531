# Multi-stage build: compile a self-contained binary, then run it as an unprivileged user.
FROM denoland/deno:debian-2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src ./src
RUN deno install --frozen --entrypoint main.ts \
 && deno compile --allow-all --frozen --v8-flags=--optimize-for-size --include src/directory/password_worker.ts --output /out/postern main.ts

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/postern --create-home --shell /usr/sbin/nologin postern \
 && apt-get update && apt-get install -y --no-install-recommends ca-certificates libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/postern /usr/local/bin/postern
# Let the unprivileged user bind ports below 1024 (25, 143, 443, …).
RUN setcap cap_net_bind_service=+ep /usr/local/bin/postern
COPY config.toml /etc/postern/config.toml
RUN sed -i 's|^data_dir = .*|data_dir = "/var/lib/postern"|' /etc/postern/config.toml
USER postern
WORKDIR /var/lib/postern
VOLUME ["/var/lib/postern"]
EXPOSE 25 587 465 143 993 110 995 4190 80 443
HEALTHCHECK CMD ["/usr/local/bin/postern", "version"]
ENTRYPOINT ["/usr/local/bin/postern"]
CMD ["serve", "--config", "/etc/postern/config.toml"]
