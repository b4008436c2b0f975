"""A small app exercising the runtime core: params, query, body, auth, errors."""

from __future__ import annotations

from pydantic import BaseModel, Field

from runtime import App, Context, HTTPError, Router
from runtime.middleware import cors, request_id, security_headers


class ItemPath(BaseModel):
    item_id: int = Field(ge=1)


class ListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=50)
    offset: int = Field(default=0, ge=0)
    tag: list[str] = Field(default_factory=list)


class Message(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    mode: str = "analyze"


class Echo(BaseModel):
    message: str
    mode: str
    length: int


class Item(BaseModel):
    id: int
    name: str


class ErrorBody(BaseModel):
    error: str


items = Router(tags=["items"])


@items.get("/", query=ListQuery, summary="List items", operation_id="listItems")
async def list_items(c: Context) -> dict:
    return {"limit": c.query.limit, "offset": c.query.offset, "tags": c.query.tag}


@items.get(
    "/{item_id}",
    path_params=ItemPath,
    responses={200: Item, 404: ErrorBody},
    summary="Get an item",
    operation_id="getItem",
)
async def get_item(c: Context) -> Item:
    if c.params.item_id == 404:
        raise HTTPError(404, "Item not found")
    return Item(id=c.params.item_id, name=f"item {c.params.item_id}")


@items.delete("/{item_id}", path_params=ItemPath, auth="bearer", operation_id="deleteItem")
async def delete_item(c: Context) -> dict:
    return {"deleted": c.params.item_id, "token_length": len(c.token or "")}


@items.post("/echo", body=Message, responses={200: Echo}, operation_id="echo")
async def echo(c: Context) -> Echo:
    return Echo(message=c.body.message, mode=c.body.mode, length=len(c.body.message))


@items.get("/boom", operation_id="boom")
async def boom(c: Context) -> dict:
    raise RuntimeError("secret internal detail")


app = App(title="Core test app", version="0.0.1")
app.use(request_id())
app.use(security_headers())
app.use(cors(default_origin="https://front.example"))
app.route("/api/items", items)


@app.get("/api/health", operation_id="health")
async def health(c: Context) -> dict:
    return {"status": "healthy"}
