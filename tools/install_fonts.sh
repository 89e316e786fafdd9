#!/bin/sh
# Install the fonts and word lists the synthetic data generator (starnet_trt/data/synth.py)
# was developed with. starnet_trt/data/fonts.txt lists the usable font files these
# packages provide (python -m starnet_trt.data.synth --list-fonts regenerates it).
# Debian/Ubuntu; run as root (or with sudo).
set -eu

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    fonts-liberation fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 \
    fonts-crosextra-carlito fonts-crosextra-caladea fonts-open-sans fonts-roboto-unhinted \
    fonts-lato fonts-texgyre fonts-linuxlibertine fonts-cantarell fonts-comic-neue \
    fonts-firacode fonts-hack fonts-inconsolata fonts-cabin fonts-dejavu-extra \
    fonts-league-spartan fonts-ebgaramond fonts-quicksand fonts-sil-gentium fonts-sil-charis \
    fonts-adf-accanthis fonts-adf-gillius fonts-adf-universalis fonts-adf-berenis \
    fonts-adf-tribun fonts-adf-verana fonts-croscore fonts-noto-mono fonts-isabella \
    fonts-breip fonts-dkg-handwriting fonts-humor-sans fonts-oldstandard fonts-play \
    fonts-jura fonts-yanone-kaffeesatz fonts-lobster fonts-junicode fonts-bebas-neue \
    wamerican wamerican-large
