"""The species the bird catalog is seeded with: real birds from every continent but Antarctica.

Pure data, no I/O. Descriptions are our own short summaries of well-established facts. Each
``slug`` is also the file name of the species' illustration in ``roost/birds/assets``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BirdSeed:
    """One species as the catalog is first filled with it."""

    slug: str
    common_name: str
    scientific_name: str
    region: str
    description: str


BIRD_SEEDS: tuple[BirdSeed, ...] = (
    # --- North America ------------------------------------------------------------------------
    BirdSeed(
        slug="northern-cardinal",
        common_name="Northern Cardinal",
        scientific_name="Cardinalis cardinalis",
        region="North America",
        description=(
            "The male is brilliant red with a pointed crest and a black face around a thick, "
            "cone-shaped bill; the female is warm buff-brown with red in the wings and tail. "
            "Cardinals do not migrate, so they stay a splash of colour at winter feeders. "
            "Both sexes sing, and pairs often answer each other's phrases."
        ),
    ),
    BirdSeed(
        slug="blue-jay",
        common_name="Blue Jay",
        scientific_name="Cyanocitta cristata",
        region="North America",
        description=(
            "A loud, crested jay of eastern woodlands and towns, patterned in blue, white and "
            "black. It buries acorns to eat later, and the ones it forgets help oak forests "
            "spread. It is a good mimic of hawk calls."
        ),
    ),
    BirdSeed(
        slug="american-robin",
        common_name="American Robin",
        scientific_name="Turdus migratorius",
        region="North America",
        description=(
            "A large thrush with a brick-orange breast and a grey-brown back, often seen running "
            "across lawns and stopping to look for earthworms. Its carolling song is one of the "
            "first heard at dawn in spring."
        ),
    ),
    BirdSeed(
        slug="american-goldfinch",
        common_name="American Goldfinch",
        scientific_name="Spinus tristis",
        region="North America",
        description=(
            "In summer the male is lemon yellow with a black cap and black-and-white wings; in "
            "winter both sexes turn a muted olive-brown. It nests late in the season, when "
            "thistle and other plants have set the seeds it feeds its young."
        ),
    ),
    BirdSeed(
        slug="painted-bunting",
        common_name="Painted Bunting",
        scientific_name="Passerina ciris",
        region="North America",
        description=(
            "The male has a blue head, red underparts and a lime-green back, which makes it one "
            "of the most colourful songbirds of the continent; the female is plain bright green. "
            "It breeds in the southern United States and winters in Mexico, Central America "
            "and the Caribbean."
        ),
    ),
    BirdSeed(
        slug="eastern-bluebird",
        common_name="Eastern Bluebird",
        scientific_name="Sialia sialis",
        region="North America",
        description=(
            "A small thrush with a vivid blue back, a rusty throat and breast and a white belly. "
            "It hunts from low perches over open fields, dropping to the ground for insects, "
            "and readily nests in boxes put up for it."
        ),
    ),
    BirdSeed(
        slug="cedar-waxwing",
        common_name="Cedar Waxwing",
        scientific_name="Bombycilla cedrorum",
        region="North America",
        description=(
            "A sleek, crested bird in soft brown and grey with a black mask, a yellow-tipped "
            "tail and red, waxy tips on some wing feathers. Flocks wander in search of fruiting "
            "trees, and birds on a branch sometimes pass a berry back and forth."
        ),
    ),
    # --- Europe, North Africa and northern Asia ---------------------------------------------
    BirdSeed(
        slug="european-robin",
        common_name="European Robin",
        scientific_name="Erithacus rubecula",
        region="Europe",
        description=(
            "A small, round chat with an orange-red face and breast edged in grey. In gardens it "
            "follows people who are digging to snatch the worms they turn up. Both males and "
            "females hold territories in winter and defend them with song."
        ),
    ),
    BirdSeed(
        slug="eurasian-blue-tit",
        common_name="Eurasian Blue Tit",
        scientific_name="Cyanistes caeruleus",
        region="Europe",
        description=(
            "A tiny, acrobatic tit with a blue cap, white cheeks, a dark line through the eye "
            "and a yellow belly. It often hangs upside down to pick insects from twigs and "
            "readily uses garden nest boxes."
        ),
    ),
    BirdSeed(
        slug="great-tit",
        common_name="Great Tit",
        scientific_name="Parus major",
        region="Europe and Asia",
        description=(
            "The largest European tit, with a black head, white cheeks, a green back and a "
            "yellow breast split by a black stripe that is broader in males. Its breeding has "
            "been recorded in the same woods for decades, which makes it a key species for "
            "studying how birds respond to warmer springs."
        ),
    ),
    BirdSeed(
        slug="eurasian-bullfinch",
        common_name="Eurasian Bullfinch",
        scientific_name="Pyrrhula pyrrhula",
        region="Europe and Asia",
        description=(
            "A stocky finch; the male has a rosy-red breast, a glossy black cap and a grey back, "
            "and a white rump shows in flight. In spring it eats the buds of fruit trees with "
            "its short, thick bill, which once made it unwelcome in orchards."
        ),
    ),
    BirdSeed(
        slug="common-kingfisher",
        common_name="Common Kingfisher",
        scientific_name="Alcedo atthis",
        region="Europe, Asia and North Africa",
        description=(
            "A sparrow-sized kingfisher with electric blue-green upperparts and orange "
            "underparts. It watches from a perch over slow, clear water, plunges head first "
            "to catch small fish, and beats them against the branch before swallowing them."
        ),
    ),
    BirdSeed(
        slug="eurasian-hoopoe",
        common_name="Eurasian Hoopoe",
        scientific_name="Upupa epops",
        region="Europe, Asia and North Africa",
        description=(
            "A cinnamon-pink bird with black-and-white barred wings, a long, slightly curved bill "
            "and a fan-shaped crest that it raises when excited. It probes lawns and bare "
            "ground for insect larvae, and its soft 'oop-oop-oop' call gave it its name."
        ),
    ),
    BirdSeed(
        slug="atlantic-puffin",
        common_name="Atlantic Puffin",
        scientific_name="Fratercula arctica",
        region="North Atlantic",
        description=(
            "A small seabird with black upperparts, a white face and belly and, in the breeding "
            "season, a bright triangular bill. It nests in burrows on grassy island slopes and "
            "can carry a whole row of small fish crosswise in its bill. Winters are spent far "
            "out at sea."
        ),
    ),
    # --- Central and South America ------------------------------------------------------------
    BirdSeed(
        slug="scarlet-macaw",
        common_name="Scarlet Macaw",
        scientific_name="Ara macao",
        region="Central and South America",
        description=(
            "A large parrot in brilliant red with yellow and blue wings and a long, pointed tail. "
            "Pairs and family groups fly noisily over lowland rainforest and gather on riverbank "
            "clay licks."
        ),
    ),
    BirdSeed(
        slug="hyacinth-macaw",
        common_name="Hyacinth Macaw",
        scientific_name="Anodorhynchus hyacinthinus",
        region="South America",
        description=(
            "The longest parrot in the world, cobalt blue with yellow bare skin around the eye "
            "and at the base of the bill. Its massive bill cracks palm nuts that few other "
            "animals can open. Most live in and around the Pantanal wetlands of Brazil."
        ),
    ),
    BirdSeed(
        slug="keel-billed-toucan",
        common_name="Keel-billed Toucan",
        scientific_name="Ramphastos sulfuratus",
        region="Central America",
        description=(
            "A black toucan with a yellow face and chest and a huge bill painted green, blue, "
            "orange and red. The bill is lighter than it looks, built from a honeycomb of bone "
            "covered in keratin. It lives in lowland forests from southern Mexico to northern "
            "Colombia."
        ),
    ),
    BirdSeed(
        slug="resplendent-quetzal",
        common_name="Resplendent Quetzal",
        scientific_name="Pharomachrus mocinno",
        region="Central America",
        description=(
            "A cloud-forest trogon; the breeding male is shimmering green with a crimson belly "
            "and feather streamers that trail far beyond his tail. It feeds heavily on wild "
            "avocados and related fruits. It is the national bird of Guatemala."
        ),
    ),
    BirdSeed(
        slug="andean-cock-of-the-rock",
        common_name="Andean Cock-of-the-rock",
        scientific_name="Rupicola peruvianus",
        region="South America",
        description=(
            "The male is flame orange with a disc-shaped crest that almost hides his bill, and "
            "black-and-grey wings. Males gather at display grounds called leks, bowing and "
            "calling to impress females. It is the national bird of Peru."
        ),
    ),
    # --- Australia and New Zealand --------------------------------------------------------
    BirdSeed(
        slug="rainbow-lorikeet",
        common_name="Rainbow Lorikeet",
        scientific_name="Trichoglossus moluccanus",
        region="Australia",
        description=(
            "A parrot with a blue head, an orange-red breast, a green back and a blue belly. Its "
            "brush-tipped tongue gathers nectar and pollen from flowering trees, and noisy "
            "flocks are common in the parks of eastern Australia."
        ),
    ),
    BirdSeed(
        slug="laughing-kookaburra",
        common_name="Laughing Kookaburra",
        scientific_name="Dacelo novaeguineae",
        region="Australia",
        description=(
            "A large kingfisher, brown above and cream below with a dark stripe through the eye. "
            "Family groups join in a loud chorus that sounds like raucous laughter to mark their "
            "territory. It eats insects, lizards, snakes and small mammals rather than fish."
        ),
    ),
    BirdSeed(
        slug="superb-fairywren",
        common_name="Superb Fairywren",
        scientific_name="Malurus cyaneus",
        region="Australia",
        description=(
            "A tiny wren with a long, cocked tail; breeding males are bright blue and black, "
            "while females and young birds are brown. Families raise their chicks together, "
            "with older offspring helping to feed the new brood."
        ),
    ),
    BirdSeed(
        slug="galah",
        common_name="Galah",
        scientific_name="Eolophus roseicapilla",
        region="Australia",
        description=(
            "A cockatoo with a rose-pink face and underparts, a pale pink crown and soft grey "
            "wings and back. Flocks feed on seeds on the ground across most of Australia, "
            "including farmland and towns."
        ),
    ),
    BirdSeed(
        slug="kea",
        common_name="Kea",
        scientific_name="Nestor notabilis",
        region="New Zealand",
        description=(
            "The only alpine parrot in the world, olive green with bright orange-red under the "
            "wings and a long, curved upper bill. Kea are famously curious and solve puzzles in "
            "experiments. They live in the mountains of the South Island."
        ),
    ),
    BirdSeed(
        slug="tui",
        common_name="Tui",
        scientific_name="Prosthemadera novaeseelandiae",
        region="New Zealand",
        description=(
            "A honeyeater that looks black from afar but shines green, blue and bronze in the "
            "sun, with a tuft of white feathers at the throat. Its song mixes bell-like notes, "
            "clicks and wheezes, and it pollinates native plants such as flax and kōwhai."
        ),
    ),
    # --- Africa -----------------------------------------------------------------------------
    BirdSeed(
        slug="lilac-breasted-roller",
        common_name="Lilac-breasted Roller",
        scientific_name="Coracias caudatus",
        region="East and Southern Africa",
        description=(
            "A savanna bird with a lilac throat and breast, a turquoise belly and wings that "
            "flash deep blue in flight. It watches from exposed perches and swoops on insects "
            "and lizards. Courting males tumble and roll through the air."
        ),
    ),
    BirdSeed(
        slug="superb-starling",
        common_name="Superb Starling",
        scientific_name="Lamprotornis superbus",
        region="East Africa",
        description=(
            "A glossy starling with metallic blue-green upperparts, a rufous-orange belly set "
            "off by a thin white band, and pale cream eyes. It is bold and common around "
            "villages and safari lodges."
        ),
    ),
    BirdSeed(
        slug="southern-carmine-bee-eater",
        common_name="Southern Carmine Bee-eater",
        scientific_name="Merops nubicoides",
        region="Southern Africa",
        description=(
            "A slender bee-eater in carmine pink with a blue crown and rump, a black mask and "
            "long central tail streamers. It nests in colonies of hundreds of burrows dug into "
            "riverbanks and catches bees and other insects in flight."
        ),
    ),
    BirdSeed(
        slug="grey-parrot",
        common_name="Grey Parrot",
        scientific_name="Psittacus erithacus",
        region="West and Central Africa",
        description=(
            "A medium-sized grey parrot with a bright red tail, pale bare skin around the eye "
            "and a black bill. It is renowned for imitating speech. Trapping for the pet trade "
            "has made it endangered in the wild."
        ),
    ),
    # --- Asia -------------------------------------------------------------------------------
    BirdSeed(
        slug="asian-fairy-bluebird",
        common_name="Asian Fairy-bluebird",
        scientific_name="Irena puella",
        region="South and Southeast Asia",
        description=(
            "The male is glossy ultramarine above and velvety black below, with red eyes; the "
            "female is a duller blue-green. It feeds on figs and other fruit high in the "
            "canopy of evergreen forest."
        ),
    ),
    BirdSeed(
        slug="oriental-magpie-robin",
        common_name="Oriental Magpie-Robin",
        scientific_name="Copsychus saularis",
        region="South and Southeast Asia",
        description=(
            "A black-and-white chat that often holds its tail cocked upright. It is a familiar "
            "songbird of gardens and towns, and the national bird of Bangladesh."
        ),
    ),
    BirdSeed(
        slug="red-billed-blue-magpie",
        common_name="Red-billed Blue Magpie",
        scientific_name="Urocissa erythroryncha",
        region="East Asia",
        description=(
            "A long-tailed magpie with a black head, blue upperparts, a red bill and legs, and "
            "a tail tipped in white. Small, noisy groups forage along forest edges and hillsides "
            "from the Himalayas to eastern China."
        ),
    ),
    # --- Everywhere -------------------------------------------------------------------------
    BirdSeed(
        slug="barn-swallow",
        common_name="Barn Swallow",
        scientific_name="Hirundo rustica",
        region="Worldwide",
        description=(
            "A swallow with glossy blue upperparts, a rust-red throat and a deeply forked tail. "
            "It builds cup-shaped mud nests on buildings, and many populations migrate between "
            "continents each year. It is the most widespread swallow in the world."
        ),
    ),
)
