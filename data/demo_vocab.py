"""Building blocks of the demo-data generator: the scenario type, shared vocabulary, markets.

Demo data only: it lets a new user run the whole pipeline in minutes. It is not a benchmark.
"""

from dataclasses import dataclass, field

from data.taxonomy import default_taxonomy


@dataclass(frozen=True)
class Scenario:
    """One kind of listing: templates, price range and the labels every instance carries.

    Templates use ``{slot}`` placeholders filled from ``slots`` first, then :data:`VOCABULARY`.
    """

    name: str
    category: str
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    price_usd: tuple[float, float]
    fraud: int = 0
    counterfeit: int = 0
    regulated_category: str | None = None
    conditions: tuple[str, ...] = ("new",)
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        category = self.regulated_category
        if category is not None and category not in default_taxonomy().categories:
            raise ValueError(f"scenario {self.name}: unknown regulated_category {category!r}")

    @property
    def regulated(self) -> int:
        return int(self.regulated_category is not None)


@dataclass(frozen=True)
class Market:
    """A market, its currency and how many of that currency one US dollar buys (approximate)."""

    code: str
    currency: str
    per_usd: float
    cities: tuple[str, ...]


MARKETS = (
    Market("US", "USD", 1.0, ("Austin", "Columbus", "Denver", "Portland", "Newark")),
    Market("GB", "GBP", 0.79, ("Leeds", "Bristol", "Glasgow", "Croydon", "Norwich")),
    Market("DE", "EUR", 0.92, ("Leipzig", "Hamburg", "Cologne", "Dortmund", "Munich")),
    Market("IN", "INR", 83.0, ("Pune", "Jaipur", "Kochi", "Lucknow", "Bengaluru")),
    Market("FR", "EUR", 0.92, ("Lyon", "Lille", "Nantes", "Toulouse", "Rennes")),
    Market("CA", "CAD", 1.36, ("Calgary", "Halifax", "Ottawa", "Victoria", "Laval")),
    Market("AU", "AUD", 1.52, ("Perth", "Geelong", "Hobart", "Cairns", "Adelaide")),
)
MARKET_WEIGHTS = (40, 18, 12, 14, 6, 5, 5)

VOCABULARY: dict[str, tuple[str, ...]] = {
    "color": ("black", "white", "navy", "graphite", "sage green", "burgundy", "sand", "silver"),
    "size": ("S", "M", "L", "XL", "XXL"),
    "shoe_size": ("UK 6", "UK 8", "UK 10", "EU 38", "EU 42", "EU 44", "US 9", "US 11"),
    "qty": ("2", "3", "4", "5", "6", "10", "12"),
    "shipping": (
        "Ships within 2 business days from {city}.",
        "Free tracked delivery; collection from {city} also possible.",
        "Dispatched the same day if ordered before 2pm.",
        "Posted in recycled packaging, usually arrives in 3-5 days.",
        "Returns accepted within 30 days, buyer pays return postage.",
    ),
    "handle": ("quickdeals77", "cardking_official", "fastcodes", "plugmaster", "vendor_x", "d3alz"),
    "messenger": ("Telegram", "WhatsApp", "Wickr", "Signal", "ICQ"),
    "payment": ("Bitcoin only", "crypto or gift cards only", "Western Union", "USDT (TRC20)"),
    "watch": (
        "Rolex Submariner",
        "Rolex Daytona",
        "Omega Seamaster",
        "Omega Speedmaster",
        "Tag Heuer Carrera",
        "Breitling Navitimer",
        "Cartier Santos",
        "Patek Philippe Nautilus",
        "Audemars Piguet Royal Oak",
    ),
    "bag": (
        "Louis Vuitton Neverfull",
        "Gucci Marmont",
        "Chanel Classic Flap",
        "Prada Galleria",
        "Hermes Birkin 30",
        "Michael Kors Jet Set",
        "Dior Saddle",
    ),
    "shoe_brand": ("Nike", "Adidas", "New Balance", "Asics", "Puma", "Clarks"),
    "sneaker": (
        "Nike Air Jordan 1 High",
        "Adidas Yeezy Boost 350",
        "Nike Air Max 90",
        "Adidas Samba OG",
        "New Balance 550",
        "Nike Dunk Low Panda",
    ),
    "software": (
        "Windows 11 Pro",
        "Office 2021 Professional Plus",
        "Adobe Photoshop 2024",
        "AutoCAD 2024",
        "Final Cut Pro",
        "Kaspersky Total Security",
    ),
    "gift_brand": ("Amazon", "Steam", "Apple", "Google Play", "Walmart", "Xbox", "PlayStation"),
    "service": ("Netflix", "Spotify", "Disney+", "HBO Max", "PayPal", "Coinbase", "Uber Eats"),
    "game": ("Fortnite", "Valorant", "League of Legends", "GTA Online", "Roblox"),
    "document": (
        "passport",
        "driving licence",
        "national ID card",
        "residence permit",
        "utility bill",
    ),
    "country": ("UK", "US", "EU", "Canadian", "Australian", "German"),
    "strain": ("OG Kush", "Amnesia Haze", "Blue Dream", "Gorilla Glue", "Northern Lights"),
    "pill": (
        "Xanax 2mg",
        "Oxycodone 30mg",
        "Tramadol 50mg",
        "Diazepam 10mg",
        "Adderall 20mg",
        "Modafinil 200mg",
        "Clonazepam 2mg",
    ),
    "spirit": (
        "Johnnie Walker Black Label",
        "Jameson Irish Whiskey",
        "Smirnoff Red Vodka",
        "Hendrick's Gin",
        "Bacardi Carta Blanca",
        "Jack Daniel's Old No. 7",
    ),
    "volume": ("70cl", "1 litre", "75cl", "50cl"),
    "wine": (
        "Bordeaux Superieur",
        "Rioja Reserva",
        "Marlborough Sauvignon Blanc",
        "Chianti Classico",
        "Barossa Shiraz",
        "Prosecco DOC",
    ),
    "cigarette": ("Marlboro Gold", "Camel Blue", "Benson & Hedges", "Lucky Strike", "Winston"),
    "vape_flavor": ("blue razz", "watermelon ice", "mango", "mint", "strawberry kiwi"),
    "supplement": (
        "Whey Protein Isolate",
        "Creatine Monohydrate",
        "Vitamin D3 + K2",
        "Omega-3 Fish Oil",
        "Magnesium Glycinate",
        "Ashwagandha KSM-66",
        "Collagen Peptides",
        "Multivitamin for Women",
    ),
    "otc": (
        "Ibuprofen 200mg",
        "Paracetamol 500mg",
        "Loratadine 10mg",
        "Cetirizine 10mg",
        "Omeprazole 20mg",
        "Cold & Flu Max capsules",
        "Nicotine-free cough syrup",
    ),
    "gun": ("Glock 19", "Sig Sauer P320", "Smith & Wesson M&P", "Beretta 92FS", "Ruger 10/22"),
    "caliber": ("9mm", ".22 LR", "5.56 NATO", "12 gauge", ".45 ACP"),
    "kitchen_brand": ("Wusthof", "Victorinox", "Global", "Zwilling", "Tojiro"),
    "electronics_brand": ("Sony", "Anker", "JBL", "Logitech", "Samsung", "Bose"),
    "book": (
        "The Midnight Library",
        "Atomic Habits",
        "Dune",
        "Sapiens",
        "The Hobbit",
        "Where the Crawdads Sing",
        "Project Hail Mary",
    ),
}
