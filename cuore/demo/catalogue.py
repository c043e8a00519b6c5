"""Load the demo's configuration and catalogue: tags, categories, products, pipelines, SLA, queues, articles."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from cuore.contacts.models import Tag
from cuore.demo.bulk import Writer, money
from cuore.demo.rand import DemoRandom
from cuore.demo.reference import (
    CATALOGUE,
    DAY,
    HISTORY_START,
    NOW,
    PIPELINES,
    PRODUCTS_PER_SUBCATEGORY,
    QUEUES,
    SLA_POLICIES,
    TAGS,
)
from cuore.demo.texts import ARTICLES
from cuore.orders.models import Category, Product
from cuore.sales.models import Pipeline, Stage
from cuore.service.models import Article, Queue, SlaPolicy, SlaTarget

MODELS = ["Basic", "Plus", "Pro", "Max", "Lite", "Classic", "Premium", "Eco", "Smart", "Compact", "Deluxe"]


@dataclass
class ProductInfo:
    id: int
    price: int  # cents
    cost: int  # cents
    price_text: str
    cost_text: str


@dataclass
class StageInfo:
    id: int
    pipeline_id: int
    position: int
    probability: int


@dataclass
class Catalogue:
    """The ids and figures the customer generator draws from."""

    tag_ids: dict[str, int] = field(default_factory=dict)
    # root index -> subcategory -> (products, cumulative popularity weights)
    products: list[list[tuple[list[ProductInfo], list[float]]]] = field(default_factory=list)
    # month (0-11) -> cumulative weights over the root categories
    root_weights_by_month: list[list[float]] = field(default_factory=list)
    pipelines: list[list[StageInfo]] = field(default_factory=list)
    # queue name -> (queue id, {priority: (first response minutes, resolution minutes)})
    queues: dict[str, tuple[int, dict[str, tuple[int, int]]]] = field(default_factory=dict)


def _price(rng: DemoRandom, low: int, high: int, step: int) -> int:
    euros = low + (high - low) * (step / (PRODUCTS_PER_SUBCATEGORY - 1)) ** 1.6
    euros = max(low, int(euros * rng.uniform(0.9, 1.1)))
    return euros * 100 + (90 if euros < 100 else 0)


def load_catalogue(writer: Writer, rng: DemoRandom, fmt, *, support_ids: list[int], team_ids: dict[str, int]):
    """Write the reference rows and return what the customers are generated from."""
    cat = Catalogue()
    created = fmt(HISTORY_START - 90 * DAY)

    tags = writer.table(Tag, ["id", "name", "color"])
    for name, color in TAGS:
        tag_id = tags.take_id()
        tags.add((tag_id, name, color))
        cat.tag_ids[name] = tag_id

    categories = writer.table(Category, ["id", "name", "parent"])
    products = writer.table(
        Product, ["id", "sku", "name", "category", "price", "cost", "currency", "active", "created_at", "updated_at"]
    )
    for root_name, code, _season, subcategories in CATALOGUE:
        root_id = categories.take_id()
        categories.add((root_id, root_name, None))
        root_products = []
        for sub_index, (sub_name, nouns, brands, low, high, margin_low, margin_high) in enumerate(subcategories):
            sub_id = categories.take_id()
            categories.add((sub_id, sub_name, root_id))
            infos = []
            for step in range(PRODUCTS_PER_SUBCATEGORY):
                price = _price(rng, low, high, step)
                margin = rng.uniform(margin_low, margin_high) / 100
                cost = int(price * (1 - margin))
                product_id = products.take_id()
                name = f"{nouns[step % len(nouns)]} {brands[step % len(brands)]} {MODELS[step % len(MODELS)]}"
                sku = f"{code}-{sub_index + 1:02d}{step + 1:02d}"
                active = rng.random() > 0.05
                products.add(
                    (product_id, sku, name, sub_id, money(price), money(cost), "EUR", active, created, created)
                )
                infos.append(ProductInfo(product_id, price, cost, money(price), money(cost)))
            weights = [1 / (1 + rank) ** 0.9 for rank in range(len(infos))]
            rng.shuffle(weights)
            root_products.append((infos, list(itertools.accumulate(weights))))
        cat.products.append(root_products)
    for month in range(12):
        weights = [season.get(month + 1, 1.0) for _root, _code, season, _subs in CATALOGUE]
        cat.root_weights_by_month.append(list(itertools.accumulate(weights)))

    pipelines = writer.table(Pipeline, ["id", "name", "is_default", "created_at"])
    stages = writer.table(Stage, ["id", "pipeline", "name", "position", "probability"])
    default_exists = Pipeline.objects.filter(is_default=True).exists()
    for name, is_default, stage_list in PIPELINES:
        pipeline_id = pipelines.take_id()
        pipelines.add((pipeline_id, name, is_default and not default_exists, created))
        infos = []
        for position, (stage_name, probability) in enumerate(stage_list, start=1):
            stage_id = stages.take_id()
            stages.add((stage_id, pipeline_id, stage_name, position, probability))
            infos.append(StageInfo(stage_id, pipeline_id, position, probability))
        cat.pipelines.append(infos)

    policies = writer.table(SlaPolicy, ["id", "name", "is_default"])
    targets = writer.table(SlaTarget, ["id", "policy", "priority", "first_response_minutes", "resolution_minutes"])
    queues = writer.table(Queue, ["id", "name", "sla_policy", "team"])
    policy_ids: dict[str, tuple[int, dict]] = {}
    for name, is_default, minutes in SLA_POLICIES:
        policy_id = policies.take_id()
        policies.add((policy_id, name, is_default))
        for priority, (first, resolution) in minutes.items():
            targets.add((targets.take_id(), policy_id, priority, first, resolution))
        policy_ids[name] = (policy_id, minutes)
    for name, policy_name in QUEUES:
        queue_id = queues.take_id()
        policy_id, minutes = policy_ids[policy_name]
        queues.add((queue_id, name, policy_id, team_ids.get("Assistenza")))
        cat.queues[name] = (queue_id, minutes)

    articles = writer.table(
        Article,
        ["id", "title", "body", "language", "published", "is_faq", "category", "author", "created_at", "updated_at"],
    )
    for index, (category, faq, title_it, body_it, title_en, body_en) in enumerate(ARTICLES):
        for language, title, body in (("it", title_it, body_it), ("en", title_en, body_en)):
            written = HISTORY_START + rng.below((NOW - HISTORY_START) // 2)
            edited = written + rng.below(NOW - written)
            published = rng.random() > 0.15 or index == 0
            author = support_ids[index % len(support_ids)] if support_ids else None
            articles.add(
                (articles.take_id(), title, body, language, published, faq, category, author, fmt(written), fmt(edited))
            )
    return cat
