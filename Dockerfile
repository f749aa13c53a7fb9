# The image that compiled Kubeflow / Vertex AI pipelines run (`shipyard compile ... --image`):
# Shipyard installed on TFX's own base image of the same version, so every component's code
# is importable by module path and nothing is read from the machine that compiled the spec.
#   docker build -t REGISTRY/shipyard:VERSION . && docker push REGISTRY/shipyard:VERSION
FROM gcr.io/tfx-oss-public/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1
# tflite-support's native module links against libusb-1.0.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libusb-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /shipyard
COPY requirements.lock setup.py README.md ./
# The lock pins what TFX 1.16.0 pins, so this adds only what the base image lacks.
RUN pip install --no-cache-dir -r requirements.lock
COPY pipelines pipelines
COPY components components
COPY models models
COPY serving serving
RUN pip install --no-cache-dir --no-deps .
