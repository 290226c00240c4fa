"""The shop's HTML pages: internal links, a fragment anchor, referral links to the partner, the partner widget."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from pydantic import BaseModel

from livesite.demo.db import Product


class PageContext(BaseModel):
    """What every page needs to know about the instance that renders it."""

    partner_url: str
    revision: str
    instance: str
    zone: str
    broken_link: bool = False
    missing_anchor: bool = False


def referral_url(ctx: PageContext, medium: str, content: str | None = None) -> str:
    """A link to the partner with our tracking parameters."""
    params = {"ref": "livesite-shop", "utm_source": "shop", "utm_medium": medium}
    if content is not None:
        params["utm_content"] = content
    return f"{ctx.partner_url}/?{urlencode(params)}"


def price(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


def _layout(ctx: PageContext, title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="revision" content="{escape(ctx.revision)}">
<title>{escape(title)} · livesite shop</title>
<link rel="stylesheet" href="/static/shop.css">
<script src="{escape(ctx.partner_url)}/widget.js" async></script>
</head>
<body>
<header><nav>
<a href="/">Home</a> <a href="/products">Products</a> <a href="/cart">Cart</a> <a href="/about">About</a>
<a href="#footer">Contact</a>
</nav></header>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
<footer id="footer">
<p>Payments by <a href="{escape(referral_url(ctx, "footer"))}" rel="sponsored">our partner</a>.</p>
<p class="served">Served by {escape(ctx.instance)} in {escape(ctx.zone)}, revision {escape(ctx.revision)}.</p>
</footer>
<div id="partner-widget"></div>
</body>
</html>
"""


def _card(product: Product) -> str:
    return (
        f'<li class="product"><a href="/products/{product.id}">{escape(product.name)}</a> '
        f'<span class="price" data-product="{product.id}">{price(product.price_cents)}</span> '
        f'<a href="/products/{product.id}#reviews">reviews</a></li>'
    )


def home(ctx: PageContext, featured: list[Product]) -> str:
    sale = '<p class="promo"><a href="/sale">Summer sale: 30% off!</a></p>' if ctx.broken_link else ""
    cards = "\n".join(_card(p) for p in featured)
    body = f"""<p>Gear for people who test in production.</p>
{sale}
<h2>Featured</h2>
<ul class="products">
{cards}
</ul>
<p><a href="/products">See all products</a> · <a href="/about">About us</a></p>"""
    return _layout(ctx, "Welcome", body)


def catalog(ctx: PageContext, products: list[Product]) -> str:
    cards = "\n".join(_card(p) for p in products)
    return _layout(ctx, "Products", f'<ul class="products">\n{cards}\n</ul>')


def product(ctx: PageContext, item: Product) -> str:
    reviews = (
        ""
        if ctx.missing_anchor
        else """<section id="reviews"><h2>Reviews</h2>
<blockquote>“Survived three chaos experiments.” — a happy SRE</blockquote></section>"""
    )
    body = f"""<p class="description">{escape(item.description)}</p>
<p>Price: <span class="price" data-product="{item.id}">{price(item.price_cents)}</span></p>
<p><a href="#reviews">Read the reviews</a> · <a href="/products">Back to all products</a></p>
<p><a href="{escape(referral_url(ctx, "product", item.slug))}" rel="sponsored">Pay in 3 with our partner</a></p>
{_add_to_cart(item)}
{reviews}"""
    return _layout(ctx, item.name, body)


# The forms post to the JSON API from the page, as a single-page shop would; the token of /login is
# kept in the tab's sessionStorage. They give browser journeys something to fill, select and click.
def _add_to_cart(item: Product) -> str:
    return f"""<form id="add-to-cart" data-product="{item.id}">
<label>Quantity <select id="quantity" name="quantity"><option>1</option><option>2</option><option>3</option></select></label>
<button type="submit">Add to cart</button></form>
<p id="cart-status" role="status"></p>
<script>
document.getElementById("add-to-cart").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const status = document.getElementById("cart-status");
  const token = sessionStorage.getItem("token");
  if (!token) {{ status.textContent = "Sign in to add to your cart"; return; }}
  const answer = await fetch("/api/cart", {{method: "POST",
    headers: {{"Content-Type": "application/json", "Authorization": "Bearer " + token}},
    body: JSON.stringify({{product_id: {item.id}, quantity: Number(document.getElementById("quantity").value)}})}});
  status.textContent = answer.ok ? "Added to your cart: " + (await answer.json()).items.length + " item(s)"
                                 : "Could not add to your cart (HTTP " + answer.status + ")";
}});
</script>"""


def login(ctx: PageContext) -> str:
    body = """<form id="login">
<label>Email <input id="email" name="email" type="email" autocomplete="username" required></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p id="login-status" role="status"></p>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = document.getElementById("email").value;
  const answer = await fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({email: email, password: document.getElementById("password").value})});
  const status = document.getElementById("login-status");
  if (answer.ok) {
    sessionStorage.setItem("token", (await answer.json()).token);
    status.textContent = "Signed in as " + email;
  } else {
    status.textContent = "Wrong email or password";
  }
});
</script>"""
    return _layout(ctx, "Sign in", body)


def about(ctx: PageContext) -> str:
    body = f"""<p>The livesite demo shop runs in two zones behind edge caches. It exists to be tested.</p>
<p><a href="/">Back home</a> · <a href="{escape(referral_url(ctx, "about"))}" rel="sponsored">Our partner</a></p>"""
    return _layout(ctx, "About", body)


def cart(ctx: PageContext) -> str:
    body = """<p>Your cart lives behind the API: <code>GET /api/cart</code> with your token.</p>
<p><a href="/products">Keep shopping</a></p>"""
    return _layout(ctx, "Cart", body)


def not_found(ctx: PageContext, path: str) -> str:
    return _layout(ctx, "Not found", f'<p>Nothing at {escape(path)}.</p><p><a href="/">Home</a></p>')
