"""Where code lives in the simulated repositories: the files stack traces and pull requests cite.

The same function names the file in an exception's stack trace and in the culprit pull request's
file list, so evidence can be followed from a failing span to the change that touched its code.
"""

from __future__ import annotations

from simulator.spec import AppSpec


def code_file(app: AppSpec, service: str, route: str) -> str:
    """The source file handling ``route`` in ``service``: cited by stack traces and PR files."""
    spec = app.service(service)
    base = spec.path or f"services/{service}"
    words = [w for w in route.strip("/").split("/") if w and not w.startswith("{")]
    slug = (words[-1] if words else "index").replace("-", "_")
    if spec.language == "python":
        return f"{base}/app/routes/{slug}.py"
    if spec.language == "go":
        return f"{base}/internal/handlers/{slug}.go"
    if spec.language == "java":
        camel = "".join(part.capitalize() for part in slug.split("_"))
        return f"{base}/src/main/java/com/acme/{service.replace('-', '')}/{camel}Controller.java"
    return f"{base}/src/routes/{slug}.ts"


def stacktrace(app: AppSpec, service: str, route: str, error_type: str, message: str) -> str:
    """A plausible stack trace in the service's language, pointing at the route's code file."""
    path = code_file(app, service, route)
    language = app.service(service).language
    handler = path.rsplit("/", 1)[-1].split(".")[0]
    if language == "python":
        return (
            "Traceback (most recent call last):\n"
            f'  File "/srv/{path}", line 87, in handle_{handler}\n'
            f"    result = await client.call(request)\n"
            f'  File "/srv/{path}", line 142, in call\n'
            f"    raise {error_type}(msg)\n"
            f"{error_type}: {message}"
        )
    if language == "go":
        return (
            f"{error_type}: {message}\n\ngoroutine 41 [running]:\n"
            f"main.(*{handler.capitalize()}Handler).ServeHTTP(...)\n\t/src/{path}:118 +0x2f4\n"
            "net/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2220"
        )
    if language == "java":
        return (
            f"com.acme.{error_type}: {message}\n"
            f"\tat com.acme.{handler}.{handler}.handle({handler}.java:96)\n"
            f"\tat com.acme.{handler}.{handler}.post({handler}.java:61)\n"
            "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"
        )
    return (
        f"{error_type}: {message}\n"
        f"    at handle (/app/{path}:74:11)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"
    )
