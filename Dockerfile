# syntax=docker/dockerfile:1
# Amarktai in containers (compose.yaml runs it; docs/operations.md, "Docker"). Stages:
#   builder  the runtime part of requirements.txt in a venv (/opt/venv)
#   app      the code, the venv and the collected static files; runs as the non-root user amarktai (uid 10001).
#            The default target: gunicorn, uvicorn, the Celery worker and beat all run this image with another command.
#   nginx    nginx with the repository's nginx.conf (upstreams pointed at the web and asgi services) and the same
#            static files:  docker build --target nginx .
# Keys and database settings come from the environment at run time; none is baked into the image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NGINX_IMAGE=nginx:1.27-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
# requirements.txt lists the runtime packages first, then "# Tests" and the test and lint tools, which stay out.
RUN sed '/^# Tests/,$d' requirements.txt > runtime.txt \
    && grep -q '^gunicorn==' runtime.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r runtime.txt

FROM ${PYTHON_IMAGE} AS app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=amarktai.settings \
    AMARKTAI_VAR_DIR=/var/lib/amarktai
RUN groupadd --system --gid 10001 amarktai \
    && useradd --system --uid 10001 --gid amarktai --home-dir /var/lib/amarktai --shell /usr/sbin/nologin amarktai
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv/amarktai
COPY . .
# Static files at build time with throwaway keys (set, so that the settings write no key file into the image).
RUN SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEY=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R amarktai:amarktai /var/lib/amarktai
USER amarktai
EXPOSE 8101 8001
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "-b", "0.0.0.0:8101", "amarktai.wsgi:application"]

FROM ${NGINX_IMAGE} AS nginx
# nginx.conf proxies to 127.0.0.1 (nginx on the same host as gunicorn and uvicorn); here they are other containers.
COPY nginx.conf /tmp/nginx.conf
RUN sed -e 's/server 127.0.0.1:8101 /server web:8101 /' -e 's/server 127.0.0.1:8001 /server asgi:8001 /' \
        /tmp/nginx.conf > /etc/nginx/amarktai.conf \
    && grep -q 'server web:8101 ' /etc/nginx/amarktai.conf && grep -q 'server asgi:8001 ' /etc/nginx/amarktai.conf \
    && ln -sf /dev/stdout /var/log/nginx/amarktai.access.log \
    && ln -sf /dev/stderr /var/log/nginx/amarktai.error.log
COPY --from=app /var/lib/amarktai/staticfiles /srv/amarktai/var/staticfiles
CMD ["nginx", "-p", "/srv/amarktai/", "-c", "/etc/nginx/amarktai.conf", "-g", "daemon off;"]

# The default target (the last stage): the application image.
FROM app AS runtime
