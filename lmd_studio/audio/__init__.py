"""lmd_studio.audio"""
