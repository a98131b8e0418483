from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.admissions.helpers import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(app: Any, clock: Any, db: Any) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=app) as client:
        yield Api(client, app, clock, db)


@pytest.fixture
async def world(api: Api) -> Api:
    await api.setup_world()
    return api
