"""The admin editor's library upload: a BibTeX, RIS, CSL-JSON or id-list file becomes the
subscriber's liked papers (:func:`digest.libraries.import_library`, as ``web:admin``).

The file comes as one multipart part, bounded by the app's body limit
(:data:`digest.web.app.MAX_BODY_BYTES`; larger libraries go through ``digest profile
import-library``). The result page names the format, the counts and each bad entry.
Owns :func:`library_upload`. May import :mod:`.base` from the package.
"""

from __future__ import annotations

from pathlib import PurePath

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ..errors import SubscriberError
from ..libraries import MAX_LIBRARY_BYTES, LibraryImport, decode_library, import_library
from ..records import Subscriber
from .base import Form, WebContext, path_int

WHO = "web:admin"


def _page(
    request: Request,
    ctx: WebContext,
    sub: Subscriber,
    *,
    result: LibraryImport | None = None,
    name: str = "",
    error: str = "",
) -> Response:
    status = 422 if error else 200
    return ctx.page(
        request, "library.html", status=status, sub=sub, result=result, file=name, error=error
    )


def library_upload(request: Request, ctx: WebContext, form: Form) -> Response:
    """POST: import the uploaded library into the subscriber's liked papers."""
    sub = ctx.store().subscriber_by_id(path_int(request, "sub_id"))
    upload = form.get("library") if form is not None else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(
            request,
            ctx,
            sub,
            error="Choose a library file (BibTeX, RIS, CSL JSON or a list of ids).",
        )
    # Only the file's own name is shown: a browser may send a path.
    name = PurePath(upload.filename.replace("\\", "/")).name or "library"
    try:
        text = decode_library(upload.file.read(MAX_LIBRARY_BYTES + 1), source=name)
        with ctx.writing() as store:
            result = import_library(
                store,
                sub.email,
                text,
                source=name,
                suffix=PurePath(name).suffix,
                who=WHO,
                now=ctx.now(),
            )
    except SubscriberError as exc:
        return _page(request, ctx, sub, error=str(exc))
    return _page(request, ctx, sub, result=result, name=name)
