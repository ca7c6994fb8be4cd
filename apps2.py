import asyncio
from concurrent.futures import ThreadPoolExecutor
ex = ThreadPoolExecutor(4)
def work(): return b"hello\n"
async def asgi(scope, receive, send):
    if scope["type"] != "http": return
    body = await asyncio.get_running_loop().run_in_executor(ex, work)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"6")]})
    await send({"type": "http.response.body", "body": body})
