"""Clean demo listings: everyday products, and hard negatives that look risky but are not."""

from data.demo_vocab import Scenario

EVERYDAY = (
    Scenario(
        "benign/headphones",
        "Electronics > Audio",
        (
            "{electronics_brand} wireless noise cancelling headphones - {color}",
            "{electronics_brand} over-ear Bluetooth headphones, 30h battery, {color}",
            "True wireless earbuds with charging case ({color})",
        ),
        (
            "Bluetooth 5.3 with USB-C charging, clear sound and long battery life. {shipping}",
            "Used for a few months, fully working, ear pads in good shape. {shipping}",
        ),
        (25, 350),
        conditions=("new", "used", "refurbished"),
    ),
    Scenario(
        "benign/phone_accessory",
        "Electronics > Phone accessories",
        (
            "Shockproof case for iPhone 15 - {color}",
            "65W USB-C GaN fast charger, 3 ports",
            "Magnetic car phone mount for air vents",
            "{qty} pack braided USB-C cables 2m",
        ),
        (
            "Good quality accessory, exactly as pictured. {shipping}",
            "Compatible with most phones; unopened retail packaging. {shipping}",
        ),
        (6, 60),
    ),
    Scenario(
        "benign/computer",
        "Electronics > Computers",
        (
            "{electronics_brand} wireless keyboard and mouse combo",
            "Aluminium laptop stand, adjustable",
            "27 inch 4K IPS monitor, {color}",
            "1TB portable SSD, USB 3.2",
        ),
        (
            "Works with Windows and macOS out of the box. {shipping}",
            "Original box and all accessories included. {shipping}",
        ),
        (20, 420),
        conditions=("new", "used"),
    ),
    Scenario(
        "benign/kitchen",
        "Home > Kitchen",
        (
            "Cast iron skillet 26cm, pre-seasoned",
            "Stainless steel cookware set, {qty} pieces",
            "Electric kettle 1.7L, {color}",
            "Bamboo cutting board set of 3",
        ),
        (
            "Sturdy, easy to clean and well made. {shipping}",
            "Bought as a gift, never used. {shipping}",
        ),
        (12, 180),
    ),
    Scenario(
        "benign/home",
        "Home > Decor",
        (
            "Linen duvet cover set, double, {color}",
            "Ceramic table lamp with fabric shade",
            "Set of {qty} scented soy candles",
            "Handmade macrame wall hanging",
        ),
        (
            "Lovely quality, colours as in the photos. {shipping}",
            "Made in small batches in our {city} studio. {shipping}",
        ),
        (10, 140),
    ),
    Scenario(
        "benign/fashion",
        "Fashion > Clothing",
        (
            "Men's denim jacket, size {size}, {color}",
            "Women's merino wool jumper, {color}, size {size}",
            "Waterproof hiking jacket {size}",
            "Cotton t-shirts {qty} pack, {color}",
        ),
        ("Worn twice, no marks or pulls. {shipping}", "True to size, model wears M. {shipping}"),
        (8, 150),
        conditions=("new", "used"),
    ),
    Scenario(
        "benign/sneakers",
        "Fashion > Shoes",
        (
            "{shoe_brand} running shoes, {shoe_size}, {color}",
            "Leather Chelsea boots, {shoe_size}",
            "Kids' trainers with velcro straps, {color}",
        ),
        (
            "Comfortable and lightly worn, soles in good shape. {shipping}",
            "Brand new in box. {shipping}",
        ),
        (20, 160),
        conditions=("new", "used"),
    ),
    Scenario(
        "benign/toys",
        "Toys & Games",
        (
            "Building bricks set, 1200 pieces, city theme",
            "Wooden train set with {qty} carriages",
            "Strategy board game for 2-5 players",
            "Remote control car 1:16 off-road",
        ),
        (
            "Complete and in good condition, suitable for ages 8+. {shipping}",
            "Played with a few times, all pieces counted. {shipping}",
        ),
        (9, 120),
        conditions=("new", "used"),
    ),
    Scenario(
        "benign/books",
        "Books",
        ("{book} - paperback", "{book} (hardcover, first edition)", "Bundle of {qty} cookbooks"),
        ("Read once, spine uncreased. {shipping}", "Ex-library copy with stamps. {shipping}"),
        (3, 40),
        conditions=("used", "new"),
    ),
    Scenario(
        "benign/sports",
        "Sports & Outdoors",
        (
            "Non-slip yoga mat 6mm, {color}",
            "Adjustable dumbbells 2 x 20kg",
            "Cycling helmet with rear light, {size}",
            "Camping tent for 4 people, waterproof",
        ),
        (
            "Good value, clean and complete. {shipping}",
            "Used for one season, no damage. {shipping}",
        ),
        (15, 260),
        conditions=("new", "used"),
    ),
    Scenario(
        "benign/garden",
        "Home > Garden",
        (
            "Heirloom tomato seeds, {qty} varieties",
            "Expandable garden hose 30m with spray gun",
            "Raised garden bed kit, galvanised steel",
            "Solar string lights for patio, 20m",
        ),
        (
            "Easy to set up and weather resistant. {shipping}",
            "Perfect for the new growing season. {shipping}",
        ),
        (4, 120),
    ),
    Scenario(
        "benign/beauty",
        "Beauty",
        (
            "Hydrating face moisturiser with hyaluronic acid 50ml",
            "Sulphate-free shampoo 500ml",
            "Vegan lipstick set of {qty} shades",
            "Electric toothbrush with 3 heads",
        ),
        ("Dermatologically tested, cruelty free. {shipping}", "Sealed and unused. {shipping}"),
        (5, 90),
    ),
    Scenario(
        "benign/pets",
        "Pet supplies",
        (
            "Orthopaedic dog bed, large, {color}",
            "Cat scratching post with hammock",
            "Stainless steel pet bowls, set of 2",
            "Reflective dog harness size {size}",
        ),
        ("Durable and easy to clean. {shipping}", "Our pets never used it. {shipping}"),
        (7, 110),
    ),
    Scenario(
        "benign/collectibles",
        "Collectibles",
        (
            "Vintage film camera, fully working",
            "Vinyl record lot, {qty} classic rock albums",
            "Signed football programme 1996",
            "Antique brass compass",
        ),
        (
            "From a private collection, see photos for condition. {shipping}",
            "Tested and working as it should. {shipping}",
        ),
        (10, 400),
        conditions=("used",),
    ),
)

HARD_NEGATIVES = (
    Scenario(
        "hard_negative/genuine_watch",
        "Fashion > Watches",
        (
            "Authentic {watch}, box and papers, 2019",
            "Genuine {watch} with original receipt and warranty card",
            "Pre-owned {watch}, serviced by the manufacturer in 2023",
        ),
        (
            "Bought from an authorised dealer in {city}; receipt, box and papers included. "
            "Happy to meet at a jeweller for inspection. {shipping}",
        ),
        (2500, 25000),
        conditions=("used",),
    ),
    Scenario(
        "hard_negative/genuine_bag",
        "Fashion > Bags",
        (
            "Pre-loved {bag}, with dust bag and receipt",
            "{bag} bought in store, authenticity certificate",
        ),
        ("Purchased at the brand's boutique in {city}, receipt included. {shipping}",),
        (300, 4000),
        conditions=("used",),
    ),
    Scenario(
        "hard_negative/software_licence",
        "Software",
        (
            "{software} - retail box, sealed",
            "{software} annual subscription, official reseller",
            "Educational licence of {software}, transferable as per vendor terms",
        ),
        ("Genuine licence sold with invoice from an authorised reseller. {shipping}",),
        (40, 400),
    ),
    Scenario(
        "hard_negative/kitchen_knives",
        "Home > Kitchen",
        (
            "{kitchen_brand} chef's knife 20cm",
            "{kitchen_brand} knife block set, {qty} knives",
            "Japanese santoku knife with whetstone",
        ),
        ("Forged stainless steel, ideal for everyday cooking. Sold to over-18s only. {shipping}",),
        (30, 350),
    ),
    Scenario(
        "hard_negative/lookalike_gear",
        "Home & Hobby",
        (
            "Gift card holder wallet, leather, {color}",
            "Passport cover, genuine leather",
            "Coffee grinder, burr, 18 settings",
            "Digital kitchen scale 5kg",
            "Water pistol super soaker for kids",
            "Alcohol-free sparkling wine, 6 bottles",
            "Herbal tea sampler, caffeine free",
            "Glass pipe fittings for plumbing, 15mm",
        ),
        ("Exactly as pictured. {shipping}", "Brand new, makes a great gift. {shipping}"),
        (5, 80),
    ),
    Scenario(
        "hard_negative/gift_card_retail",
        "Gift cards",
        (
            "{gift_brand} gift card - physical card, sealed in original packaging",
            "Unused {gift_brand} gift card, sold at face value",
        ),
        ("Unwanted gift, sold at face value with the shop receipt. {shipping}",),
        (25, 100),
    ),
)
