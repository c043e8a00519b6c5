from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "cuore.core"
    label = "core"
    verbose_name = "Cuore core"

    def ready(self) -> None:
        checks.register(check_front_end_packages, checks.Tags.staticfiles)


def check_front_end_packages(app_configs, **kwargs):
    """The web pages need the npm packages of package.json: say how to get them when they are missing."""
    from django.conf import settings

    missing = [str(path) for _, path in settings.STATICFILES_DIRS if not path.exists()]
    if not missing:
        return []
    return [
        checks.Error(
            f"front-end packages are missing: {', '.join(missing)}",
            hint="run `npm ci` in the project folder (`make demo` and `make test` do it)",
            id="cuore.E001",
        )
    ]
