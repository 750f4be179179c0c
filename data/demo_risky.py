"""Risky demo listings: fraud, counterfeit and regulated products of every category."""

from data.demo_vocab import Scenario

FRAUD = (
    Scenario(
        "fraud/gift_card_scam",
        "Gift cards",
        (
            "$500 {gift_brand} gift card for $120 - instant code delivery",
            "{gift_brand} gift card codes 70% off, bulk discount",
            "Unused {gift_brand} balance, cheap, codes sent by message",
        ),
        (
            "Codes are sent instantly after payment. {payment}. Message me on {messenger} "
            "@{handle} for bulk orders.",
            "Legit codes, 100% working or refund. Pay with {payment}, no PayPal.",
        ),
        (15, 200),
        fraud=1,
        conditions=("new",),
    ),
    Scenario(
        "fraud/account_sale",
        "Digital goods",
        (
            "{service} premium account, lifetime warranty",
            "Verified {service} account with full access",
            "{game} account with rare skins, email included",
            "Aged {service} accounts x{qty}",
        ),
        (
            "Full access: email and password change allowed. Replacement if banned. Contact on "
            "{messenger} @{handle}.",
            "Logins delivered within 10 minutes. {payment}.",
        ),
        (3, 150),
        fraud=1,
    ),
    Scenario(
        "fraud/carding",
        "Digital goods",
        (
            "Fresh CC fullz with CVV, high balance",
            "Carding method 2024 + working BIN list",
            "Dumps track 1/2 with PIN, {country} cards",
            "Cashout guide for stolen cards, step by step",
        ),
        (
            "Valid rate above 90%, replacements for dead cards within 24h. {payment} only.",
            "Tested on major shops. Contact {messenger} @{handle}, no time wasters.",
        ),
        (10, 400),
        fraud=1,
    ),
    Scenario(
        "fraud/too_good_to_be_true",
        "Electronics",
        (
            "iPhone 15 Pro Max 256GB brand new sealed, 80% off",
            "PS5 console new in box, quarter price, shipping today",
            "MacBook Pro M3 unopened, urgent sale, price too low to last",
        ),
        (
            "Moving abroad so must sell fast. Payment by {payment} before shipping, no meetups.",
            "Price is final. Pay {payment} and I send tracking number. Text {messenger} @{handle}.",
        ),
        (80, 300),
        fraud=1,
    ),
    Scenario(
        "fraud/fake_documents",
        "Services",
        (
            "Real registered {country} {document}, biometric",
            "Novelty {country} {document} with hologram",
            "{country} {document} template, editable PSD",
        ),
        (
            "Passes UV and scanner checks. Send photo and details on {messenger} @{handle}. "
            "{payment}.",
        ),
        (50, 1500),
        fraud=1,
        counterfeit=1,
    ),
    Scenario(
        "fraud/counterfeit_money",
        "Services",
        (
            "Counterfeit 20 EUR notes x{qty}, pass pen test",
            "Undetectable 50 USD bills, prop grade plus",
        ),
        ("High quality with watermark and security strip. Discreet shipping. {payment}.",),
        (60, 900),
        fraud=1,
        counterfeit=1,
    ),
)

COUNTERFEIT = (
    Scenario(
        "counterfeit/replica_watch",
        "Fashion > Watches",
        (
            "AAA replica {watch} 1:1 Swiss movement",
            "{watch} super clone, automatic",
            "{watch} mirror quality, noob factory",
        ),
        (
            "Looks identical to the original, comes with box and fake papers. {shipping}",
            "Top grade clone, nobody can tell the difference. Message {messenger} @{handle}.",
        ),
        (60, 450),
        counterfeit=1,
    ),
    Scenario(
        "counterfeit/replica_bag",
        "Fashion > Bags",
        (
            "{bag} mirror replica, dust bag included",
            "1:1 {bag} top quality copy",
            "{bag} factory original grade, with serial",
        ),
        ("Same leather and hardware as the real one, serial number included. {shipping}",),
        (40, 300),
        counterfeit=1,
    ),
    Scenario(
        "counterfeit/fake_sneakers",
        "Fashion > Shoes",
        (
            "{sneaker} UA reps, {shoe_size}",
            "{sneaker} best batch replica, {shoe_size}",
            "{sneaker} factory variant, no box",
        ),
        ("Unauthorised authentic, passes legit check apps. {shipping}",),
        (35, 140),
        counterfeit=1,
    ),
    Scenario(
        "counterfeit/pirated_software",
        "Software",
        (
            "{software} lifetime activation, cracked",
            "{software} full version + keygen",
            "{software} pre-activated, no subscription needed",
        ),
        (
            "Instant download link, works offline forever. Updates disabled. {payment}.",
            "Cracked by our team, tested on Windows and Mac.",
        ),
        (3, 40),
        counterfeit=1,
    ),
)

REGULATED = (
    Scenario(
        "regulated/prescription_drugs",
        "Health",
        (
            "{pill} x{qty}0 tablets, no prescription needed",
            "{pill} pharma grade, blister packs",
            "Buy {pill} online without prescription",
        ),
        (
            "Discreet packaging, tracked worldwide delivery. {payment}.",
            "Original pharmacy stock. Reships if lost. Contact {messenger} @{handle}.",
        ),
        (30, 400),
        regulated_category="prescription_drugs",
    ),
    Scenario(
        "regulated/illicit_drugs",
        "Other",
        (
            "{strain} 28g top shelf indoor",
            "MDMA crystals 1g, 84% pure",
            "Cocaine 1g fishscale, uncut",
            "{strain} 3.5g, lab tested THC 24%",
        ),
        ("Vacuum sealed and stealth shipped. {payment}.", "Same-day dispatch. Escrow only."),
        (15, 300),
        regulated_category="illicit_drugs",
    ),
    Scenario(
        "regulated/weapons",
        "Sports & Outdoors",
        (
            "{gun} magazine, 15 rounds",
            "{caliber} ammunition, 50 rounds",
            "Spring assisted tactical folding knife",
            "Compound crossbow 175lb with bolts",
            "Telescopic baton, 21 inch",
        ),
        (
            "Buyer must be over 18; ID check on collection in {city}. {shipping}",
            "No licence checks, discreet shipping. {payment}.",
        ),
        (20, 900),
        regulated_category="weapons",
    ),
    Scenario(
        "regulated/tobacco",
        "Tobacco & vaping",
        (
            "{cigarette} carton, 200 cigarettes",
            "Disposable vape 5000 puffs, {vape_flavor}, 20mg nicotine",
            "Box of 25 Cuban cigars",
            "Rolling tobacco 50g, {qty} pouches",
        ),
        ("Over-18s only, age verified on delivery. {shipping}",),
        (8, 180),
        regulated_category="tobacco",
    ),
    Scenario(
        "regulated/alcohol",
        "Food & Drink",
        (
            "{spirit} {volume}",
            "{wine} 2019, case of 6",
            "Craft IPA mixed case, {qty} x 330ml",
            "Single malt Scotch whisky 12 year old, gift box",
        ),
        (
            "Age verification required on delivery. {shipping}",
            "Stored in a cool cellar. {shipping}",
        ),
        (12, 160),
        regulated_category="alcohol",
    ),
    Scenario(
        "regulated/supplements",
        "Health",
        (
            "{supplement} 1kg, chocolate",
            "{supplement}, 120 capsules",
            "{supplement} 365 softgels, vegan",
        ),
        (
            "Third-party tested, made in a GMP facility. {shipping}",
            "Best before 2026, sealed. {shipping}",
        ),
        (9, 70),
        regulated_category="supplements",
    ),
    Scenario(
        "regulated/otc_medicine",
        "Health",
        ("{otc}, {qty} x 16 tablets", "{otc} multipack", "Hay fever relief, {otc}"),
        ("Always read the label. Maximum {qty} packs per order. {shipping}",),
        (3, 25),
        regulated_category="otc_medicine",
    ),
    Scenario(
        "regulated/drug_paraphernalia",
        "Home & Hobby",
        (
            "4-piece herb grinder, aluminium, {color}",
            "Glass water pipe bong 30cm",
            "Digital pocket scale 0.01g with tray",
            "King size rolling papers and tips, {qty} packs",
        ),
        ("For tobacco use only. {shipping}", "Discreet packaging, sold to adults only. {shipping}"),
        (5, 90),
        regulated_category="drug_paraphernalia",
    ),
)
