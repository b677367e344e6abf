import pytest

from classifiers.loader import build_classifier


@pytest.fixture(scope="session")
def classifier(tmp_path_factory):
    """The shipped classifier (trained on the project's corpus), with the repository's config."""
    import shutil

    from bot.config import load_config
    from tests.conftest import REPO
    folder = tmp_path_factory.mktemp("cfg")
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    return build_classifier(load_config(folder / "config.yaml"))
